"""Smaller pieces: sanitised Markdown, shortcuts, mined records, request guard, adjudication."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from convfail.dataset import load_study
from convfail.errors import ConvfailError
from labeling.adjudication import Adjudication
from labeling.guard import RequestGuard
from labeling.issue_texts import load_issue_texts
from labeling.markdown import render_markdown
from labeling.save_api import SaveRequest
from labeling.shortcuts import NAVIGATION_KEYS, assign_shortcuts
from labeling.store import LabelStore


class _Elements(HTMLParser):
    """Collects the elements and attributes a browser would build from some HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "![x](javascript:alert(1))",
        '<svg/onload="alert(1)">',
        "<iframe src=//evil></iframe>",
    ],
)
def test_markdown_never_lets_markup_through(payload):
    parser = _Elements()
    parser.feed(render_markdown(payload))
    assert parser.tags <= {"p", "a"}
    assert not [a for a in parser.attributes if a[0].startswith("on")]
    assert not [a for a in parser.attributes if a[0] == "href" and "javascript" in (a[1] or "")]


def test_markdown_keeps_code_and_tracebacks_readable():
    html = render_markdown("text\n\n```python\nTraceback (most recent call last):\n  x < y\n```\n")
    assert (
        '<pre><code class="language-python">Traceback (most recent call last):\n'
        "  x &lt; y\n</code></pre>" in html
    )
    assert 'rel="noopener noreferrer nofollow"' in render_markdown("[a](https://example.org)")
    image = render_markdown("![shot](https://example.org/a.png)")
    assert (
        "<img" not in image
        and '<a href="https://example.org/a.png"' in image
        and "[image: shot]" in image
    )


def test_every_choice_has_a_unique_visible_shortcut(codebook):
    keys = assign_shortcuts(codebook)
    reserved = {k for ks in NAVIGATION_KEYS.values() for k in ks}
    top = [keys[d][c.key] for d in ("location", "symptom", "cause") for c in codebook[d]]
    assert all(top) and len(set(top)) == len(top) and not set(top) & reserved
    for cause in codebook["cause"]:
        subs = [keys["subcause"][s.key] for s in codebook.subcauses(cause.name)]
        assert all(subs) and len(set(subs)) == len(subs) and not set(subs) & (set(top) | reserved)


def test_mined_records_fill_bodies_and_missing_ones_fall_back(demo_study, project):
    path = project / "data" / "issues" / "onnx__tensorflow-onnx.jsonl"
    path.write_text(
        json.dumps({"number": 10, "body": None, "comments": ["plain text comment"]}) + "\n"
    )
    texts = {t.key: t for t in load_issue_texts(load_study("demo").issues, project / "data")}
    first = texts[("pytorch/pytorch", 1)]
    assert first.mined and "RuntimeError: boom" in first.body and first.comments[0].author == "dev"
    assert first.metadata["state"] == "closed"
    assert not texts[("pytorch/pytorch", 2)].mined and texts[("pytorch/pytorch", 2)].body is None
    assert texts[("onnx/tensorflow-onnx", 10)].comments[0].body == "plain text comment"
    assert "RuntimeError" in first.document() and "Fixed in" in first.document()


def test_guard_refuses_foreign_hosts_origins_and_missing_tokens():
    guard = RequestGuard()
    guard.bind("127.0.0.1", 5000)
    ok = {
        "Host": "127.0.0.1:5000",
        "Origin": "http://127.0.0.1:5000",
        "X-CSRF-Token": guard.token,
        "Content-Type": "application/json",
    }
    assert guard.refusal("POST", ok) is None
    assert (
        guard.refusal("POST", {**ok, "Host": "localhost:5000", "Origin": "http://localhost:5000"})
        is None
    )
    assert guard.refusal("GET", {"Host": "evil.example:5000"}) == "unknown Host header"
    assert guard.refusal("POST", {**ok, "Origin": "http://evil.example"}) == "cross-origin request"
    assert guard.refusal("POST", {**ok, "Origin": "null"}) == "cross-origin request"
    no_origin = {k: v for k, v in ok.items() if k != "Origin"}
    assert guard.refusal("POST", no_origin) == "cross-origin request"
    assert (
        guard.refusal("POST", {**no_origin, "Referer": "http://127.0.0.1:5000/issue/a/b/1"}) is None
    )
    assert guard.refusal("POST", {**ok, "X-CSRF-Token": "guess"}) == "missing or wrong CSRF token"
    assert guard.refusal("POST", {**ok, "Content-Type": "text/plain"}) == "expected a JSON body"


def test_adjudication_seeds_agreements_and_final_becomes_primary(demo_study, codebook):
    for rater, cause in (("ann", "typo"), ("bob", "documentation")):
        store = LabelStore(demo_study, rater, codebook)
        store.save("pytorch/pytorch", 1, {"location": "export", "symptom": "crash", "cause": cause})
        store.save(
            "pytorch/pytorch",
            2,
            {
                "location": "export",
                "symptom": "hang",
                "cause": "incompatibility",
                "subcause": "internal",
            },
        )
        store.save(
            "pytorch/pytorch",
            3,
            {"location": "export", "symptom": "hang", "cause": "typo", "note": rater},
        )
    adjudication = Adjudication(demo_study, ["ann", "bob"], codebook)
    assert [c.key[1] for c in adjudication.disagreements()] == [1]
    assert adjudication.seed_agreed() == 2 and adjudication.seed_agreed() == 0
    comparison = adjudication.disagreements()[0]
    assert comparison.differing == ["cause"] and comparison.agreed["symptom"] == "crash"
    assert not adjudication.is_resolved(comparison, adjudication.final.read())
    adjudication.decide(SaveRequest("pytorch/pytorch", 1, {"cause": "typo"}))
    assert adjudication.is_resolved(comparison, adjudication.final.read())
    study = load_study("demo", codebook)
    assert study.primary_rater == "final"
    final = study.labels["final"].set_index("number")
    assert final.loc[1, "cause"] == "typo" and final.loc[1, "location"] == "export"
    assert final.loc[2, "subcause"] == "internal" and final.loc[3, "note"] == ""
    with pytest.raises(ConvfailError, match="not coded by all"):
        adjudication.decide(SaveRequest("pytorch/pytorch", 5, {"cause": "typo"}))
    with pytest.raises(ConvfailError, match="two raters or more"):
        Adjudication(demo_study, ["ann"], codebook)
