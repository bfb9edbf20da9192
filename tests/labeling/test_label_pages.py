"""Issue pages on hostile real text, through the app's own test client (no browser needed)."""

from __future__ import annotations

from html.parser import HTMLParser

from convfail.codebook import load_codebook
from convfail.dataset import load_study
from labeling.guard import RequestGuard
from labeling.session import LabelingSession
from labeling.shortcuts import assign_shortcuts
from labeling.webapp import create_app


def client_for(project, study: str):
    book = load_codebook()
    session = LabelingSession(load_study(study, book), "alice", book, project / "data")
    return create_app(session, RequestGuard()).test_client()


def test_lone_surrogates_anywhere_still_give_a_page(project, make_study):
    make_study(
        "surrogates",
        [{"repository": "a/b", "number": 1, "title": "half an emoji"}],
        [
            {
                "repository": "a/b",
                "number": 1,
                "body": "body \udc00 end",
                "comments": [{"author": "x\ud800", "body": "comment \ud83d"}],
                "labels": ["bug\udfff"],
            }
        ],
    )
    response = client_for(project, "surrogates").get("/issue/a/b/1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "body \ufffd end" in page and "comment \ufffd" in page
    assert "x\ufffd" in page and "bug\ufffd" in page  # author and labels: the page's own fields


def test_a_200000_character_line_is_served_as_one_code_block(project, make_study):
    line = "x = [" * 40_000
    make_study(
        "long",
        [{"repository": "a/b", "number": 1}],
        [{"repository": "a/b", "number": 1, "body": f"intro\n\n{line}\n\ntail **end**"}],
    )
    response = client_for(project, "long").get("/issue/a/b/1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<strong>end</strong>" in page
    assert page.count("<pre><code>") == 1 and "x = [" * 1000 in page


def test_an_issue_url_that_is_not_github_never_becomes_a_link(project, make_study):
    folder = make_study(
        "urls", [{"repository": "a/b", "number": 1}, {"repository": "c/d", "number": 2}]
    )
    csv = folder / "issues.csv"
    text = csv.read_text()
    text = text.replace("https://github.com/a/b/issues/1", "javascript:alert(1)")
    text = text.replace("https://github.com/c/d/issues/2", "https://evil.example/c/d/issues/2")
    csv.write_text(text)
    client = client_for(project, "urls")
    for path, expected in (("/issue/a/b/1", "a/b/issues/1"), ("/issue/c/d/2", "c/d/issues/2")):
        page = client.get(path).get_data(as_text=True)
        assert f'id="github-link" href="https://github.com/{expected}"' in page
        assert "javascript:alert" not in page and "evil.example" not in page


def test_references_in_a_body_point_to_the_issue_repository(project, make_study):
    make_study(
        "refs",
        [{"repository": "onnx/tensorflow-onnx", "number": 3}],
        [{"repository": "onnx/tensorflow-onnx", "number": 3, "body": "dup of #2, by @guschmue"}],
    )
    page = client_for(project, "refs").get("/issue/onnx/tensorflow-onnx/3").get_data(as_text=True)
    assert 'href="https://github.com/onnx/tensorflow-onnx/issues/2"' in page
    assert 'href="https://github.com/guschmue"' in page


def test_save_api_answers_conflicts_and_bad_requests_in_json(project, demo_study):
    book = load_codebook()
    session = LabelingSession(load_study("demo", book), "alice", book, project / "data")
    guard = RequestGuard()
    guard.bind("127.0.0.1", 5000)
    client = create_app(session, guard).test_client()
    headers = {"Origin": "http://127.0.0.1:5000", "X-CSRF-Token": guard.token}

    def post(payload):
        return client.post(
            "/api/label", json=payload, headers=headers, base_url="http://127.0.0.1:5000"
        )

    key = {"repository": "pytorch/pytorch", "number": 1}
    first = post({**key, "field": "cause", "value": "typo", "base": ""})
    assert first.status_code == 200 and first.json["label"]["cause"] == "typo"
    stale = post({**key, "changes": {"cause": "others"}, "base": "", "seconds": 3})
    assert stale.status_code == 409
    assert stale.json["conflict"]["theirs"]["cause"] == "typo"
    assert stale.json["conflict"]["yours"] == {"cause": "others"}
    current = post({**key, "changes": {"cause": "others"}, "base": first.json["version"]})
    assert current.status_code == 200 and current.json["version"] != first.json["version"]
    assert post({"number": "x"}).status_code == 400
    refused = post({**key, "field": "cause", "value": "nope"})
    assert refused.status_code == 422 and "'nope' is not a cause" in refused.json["error"]


def test_favicon_is_cached_while_issue_pages_never_are(project, demo_study):
    client = client_for(project, "demo")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 204 and icon.data == b""
    assert icon.cache_control.max_age == 24 * 3600 and not icon.cache_control.no_store
    assert icon.headers["Content-Security-Policy"].startswith("default-src 'none'")
    page = client.get("/issue/pytorch/pytorch/1")
    assert page.status_code == 200 and page.cache_control.no_store


class _Buttons(HTMLParser):
    """The choice buttons a browser would build from a page, with their attributes and text."""

    def __init__(self) -> None:
        super().__init__()
        self.buttons: list[dict] = []
        self.inside = False

    def handle_starttag(self, tag, attrs):
        if tag == "button" and "choice" in (dict(attrs).get("class") or ""):
            self.buttons.append({**dict(attrs), "text": ""})
            self.inside = True

    def handle_endtag(self, tag):
        self.inside = self.inside and tag != "button"

    def handle_data(self, data):
        if self.inside:
            self.buttons[-1]["text"] += data


def test_choice_buttons_carry_the_codebook_and_the_saved_answer(project, demo_study):
    """The buttons' fixed markup is built once per app: every page still gets the codebook's
    values, keys and definitions (escaped) and its own answer in ``aria-pressed``."""
    book = load_codebook()
    session = LabelingSession(load_study("demo", book), "alice", book, project / "data")
    guard = RequestGuard()
    guard.bind("127.0.0.1", 5000)
    client = create_app(session, guard).test_client()
    keys = assign_shortcuts(book)
    cause = next(c for c in book["cause"] if book.subcauses(c.name))
    sub = book.subcauses(cause.name)[-1]
    saved = client.post(
        "/api/label",
        json={
            "repository": "pytorch/pytorch",
            "number": 1,
            "changes": {"cause": cause.name, "subcause": sub.name},
            "base": "",
        },
        headers={"Origin": "http://127.0.0.1:5000", "X-CSRF-Token": guard.token},
        base_url="http://127.0.0.1:5000",
    )
    assert saved.status_code == 200, saved.json
    for number, chosen in ((1, {"cause": cause.name, "subcause": sub.name}), (2, {})):
        parser = _Buttons()
        page = client.get(f"/issue/pytorch/pytorch/{number}", base_url="http://127.0.0.1:5000")
        parser.feed(page.get_data(as_text=True))
        expected = [
            (dim, c, keys[dim][c.key])
            for dim in ("location", "symptom", "cause", "subcause")
            for c in book[dim]
        ]
        for button, (dim, c, shortcut) in zip(parser.buttons, expected, strict=True):
            assert (button["data-dim"], button["data-value"]) == (dim, c.name)
            assert button["data-key"] == shortcut and button["title"] == c.definition
            assert button.get("data-parent", "") == (c.parent or "")
            assert " ".join(button["text"].split()) == f"{shortcut} {c.paper_name}"
            pressed = chosen.get(dim) == c.name and (dim != "subcause" or c.parent == cause.name)
            assert button["aria-pressed"] == ("true" if pressed else "false")
