"""The labelling app in a real browser (Debian's chromium, headless, through Playwright)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from convfail.dataset import read_csv
from convfail.records import LABEL_COLUMNS

pytestmark = pytest.mark.browser

XSS_BODY = """Payloads that must stay text:

<script>window.__pwned = 'script'</script>
<img src=x onerror="window.__pwned = 'img'">
<svg onload="window.__pwned = 'svg'"></svg>
<a href="javascript:window.__pwned = 'link'">raw link</a>
[markdown link](javascript:window.__pwned='md')
<iframe src="javascript:window.__pwned='iframe'"></iframe>
<div onmouseover="window.__pwned='hover'">hover me</div>
"""


def label_file(project, study, rater):
    return project / "data" / "studies" / study / "labels" / f"{rater}.csv"


def saved(page):
    page.wait_for_selector('#status[data-state="saved"]')


def test_keyboard_labelling_persists_across_reload(project, demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    assert "RuntimeError: boom" in page.inner_text("#issue-body pre")
    assert page.is_hidden('fieldset[data-dim="subcause"]')
    # location: digits; symptom: qwerty row; cause: home row (codebook order).
    for key, selector in [
        ("2", '[data-dim="location"][data-value="node_conversion"]'),
        ("q", '[data-dim="symptom"][data-value="crash"]'),
        ("a", '[data-dim="cause"][data-value="incompatibility"]'),
    ]:
        page.keyboard.press(key)
        page.wait_for_selector(f'{selector}[aria-pressed="true"]')
    assert page.is_visible('fieldset[data-dim="subcause"]')
    assert page.is_hidden('.subgroup[data-parent="type_problem"]')
    page.keyboard.press("7")  # first sub-cause of incompatibility in the codebook: external
    page.wait_for_selector('[data-dim="subcause"][data-value="external"][aria-pressed="true"]')
    page.keyboard.press("m")
    page.keyboard.type("checked the traceback")
    page.keyboard.press("Escape")
    expect(page.locator("#status")).to_contain_text("saved note")

    page.reload()
    for dim, value in [
        ("location", "node_conversion"),
        ("symptom", "crash"),
        ("cause", "incompatibility"),
        ("subcause", "external"),
    ]:
        assert (
            page.get_attribute(f'[data-dim="{dim}"][data-value="{value}"]', "aria-pressed")
            == "true"
        )
    assert page.input_value("#note") == "checked the traceback"
    assert page.inner_text("#progress-text").startswith("1 / 7")

    row = read_csv(label_file(project, "demo", "alice"), LABEL_COLUMNS).iloc[0]
    assert (row.location, row.symptom, row.cause, row.subcause) == (
        "node_conversion",
        "crash",
        "incompatibility",
        "external",
    )
    assert (
        row.note == "checked the traceback"
        and row.codebook_version == "issta24-1"
        and row.labelled_at
    )

    # a cause without sub-causes hides them and drops the saved sub-cause
    page.keyboard.press("d")  # algorithmic_error
    page.wait_for_selector(
        '[data-dim="cause"][data-value="algorithmic_error"][aria-pressed="true"]'
    )
    assert page.is_hidden('fieldset[data-dim="subcause"]')
    saved(page)
    assert read_csv(label_file(project, "demo", "alice"), LABEL_COLUMNS).iloc[0].subcause == ""

    page.keyboard.press("n")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/2")
    assert "has not been mined yet" in page.inner_text("#issue-body")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/1")


def test_the_previous_issue_is_fetched_after_the_next_and_then_shown_from_it(
    project, demo_study, serve_study, page
):
    """A rater moving on never shares the server and the page with the previous issue's fetch;
    one who stays gets it too, and going back swaps it in without asking the server again."""
    live = serve_study("demo", "alice")
    events = []
    for event in ("request", "requestfinished"):
        page.on(
            event,
            lambda r, e=event: (
                events.append((e, r.url.rsplit("/", 1)[1])) if "/issue/" in r.url else None
            ),
        )
    page.goto(f"{live.url}/issue/pytorch/pytorch/3")
    while ("requestfinished", "2") not in events:
        page.wait_for_timeout(50)
    # the page, then its next issue fetched to the end, and only then its previous one
    assert events.index(("requestfinished", "4")) < events.index(("request", "2"))
    assert [n for e, n in events if e == "request"] == ["3", "4", "2"]
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/2")
    assert "torch issue 2" in page.inner_text("#issue-title")
    assert events.count(("request", "2")) == 1


def test_unlabelled_filter_skips_done_issues(project, demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    for number in (2, 3):
        live.session.store.save(
            "pytorch/pytorch", number, {"location": "export", "symptom": "hang", "cause": "typo"}
        )
    page.goto(f"{live.url}/queue?filter=unlabelled")
    assert page.locator("table.queue tbody tr").count() == 5
    page.click("text=pytorch/pytorch#1")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/1?filter=unlabelled")
    page.keyboard.press("n")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/4?filter=unlabelled")


def test_issue_text_payloads_render_as_text(make_study, serve_study, page):
    make_study(
        "xss",
        [
            {
                "repository": "evil/repo",
                "number": 1,
                "title": "<script>window.__pwned='title'</script>",
            }
        ],
        [
            {
                "repository": "evil/repo",
                "number": 1,
                "body": XSS_BODY,
                "comments": [
                    {
                        "author": "<b onclick=x>",
                        "body": "<img src=x onerror=\"window.__pwned='comment'\">",
                    }
                ],
            }
        ],
    )
    live = serve_study("xss", "alice")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live.url}/issue/evil/repo/1")
    page.hover("text=hover me")
    assert page.evaluate("window.__pwned") is None
    assert page.inner_text("#issue-title") == "<script>window.__pwned='title'</script>"
    body = page.inner_text("#issue-body")
    # raw HTML is interpreted as GitHub does, and the sanitiser keeps only the harmless part
    assert "Payloads that must stay text" in body and "hover me" in body and "raw link" in body
    assert "__pwned = 'script'" not in body  # a script's content is dropped with it
    assert "[image: image]" in body  # the <img> became a reference, never loaded
    article = page.locator("article.issue")
    assert (
        article.locator("script, img, svg, iframe, [onerror], [onload], [onmouseover]").count() == 0
    )
    assert article.locator('a[href^="javascript"]').count() == 0
    assert "[image: image]" in page.inner_text(".comment")
    assert errors == []


class _Attacker(BaseHTTPRequestHandler):
    """A page of another origin that tries to change a label on the labelling server."""

    target = ""

    def do_GET(self):
        payload = (
            '{"repository": "pytorch/pytorch", "number": 1, "field": "cause", "value": "typo"}'
        )
        html = f"""<!doctype html><body>
<form id="f" method="post" action="{self.target}/api/label" enctype="text/plain">
<input name='{payload[:-1]}, "x": "' value='"}}'></form>
<script>
fetch("{self.target}/api/label", {{method: "POST", mode: "no-cors", body: '{payload}',
  headers: {{"Content-Type": "text/plain"}}}}).finally(() => {{
  fetch("{self.target}/api/label", {{method: "POST", body: '{payload}',
    headers: {{"Content-Type": "application/json", "X-CSRF-Token": "guess"}}}})
    .catch(() => null).finally(() => document.getElementById("f").submit());
}});
</script></body>"""
        data = html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_cross_origin_post_is_refused(project, demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    handler = type("Attacker", (_Attacker,), {"target": live.url})
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{attacker.server_port}/")
        page.wait_for_url(f"{live.url}/api/label")  # the form post landed on the app ...
        assert "refused" in page.inner_text("body")  # ... and was refused
    finally:
        attacker.shutdown()
    posts = [r for r in live.requests if r[0] == "POST"]
    assert len(posts) >= 2 and all(status == 403 for _, _, status in posts)
    assert not label_file(project, "demo", "alice").exists()


def test_invalid_code_is_refused_with_a_message(project, demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    page.evaluate(
        """() => { const b = document.querySelector('[data-dim="cause"][data-value="typo"]');
                   b.dataset.value = 'not_a_cause'; b.click(); }"""
    )
    page.wait_for_selector('#status[data-state="error"]')
    assert "'not_a_cause' is not a cause" in page.inner_text("#status")
    assert not label_file(project, "demo", "alice").exists()


def test_adjudication_page_writes_final(project, demo_study, serve_study, page):
    from convfail.codebook import load_codebook
    from labeling.store import LabelStore

    book = load_codebook()
    a, b = LabelStore(demo_study, "ann", book), LabelStore(demo_study, "bob", book)
    for store, cause in ((a, "typo"), (b, "documentation")):
        store.save("pytorch/pytorch", 1, {"location": "export", "symptom": "crash", "cause": cause})
        store.save(
            "pytorch/pytorch", 2, {"location": "export", "symptom": "crash", "cause": "typo"}
        )
    live = serve_study("demo", "final", adjudicate=["ann", "bob"])
    page.goto(f"{live.url}/adjudicate")
    assert page.locator("table.queue tbody tr").count() == 1
    page.click("text=pytorch/pytorch#1")
    assert "typo" in page.inner_text("#side-by-side") and "documentation" in page.inner_text(
        "#side-by-side"
    )
    assert page.locator('[data-value="typo"] .vote').inner_text() == "ann"
    key = page.get_attribute('[data-dim="cause"][data-value="documentation"]', "data-key")
    page.keyboard.press(key)
    saved(page)
    final = read_csv(label_file(project, "demo", "final"), LABEL_COLUMNS)
    assert final[["number", "location", "symptom", "cause"]].values.tolist() == [
        ["1", "export", "crash", "documentation"]
    ]


def test_suggestions_are_shown_as_hints_and_never_saved(project, demo_study, serve_study, page):
    from convfail.codebook import load_codebook
    from convfail.dataset import load_study
    from labeling.cli import labelled_documents

    reference = labelled_documents(load_study("issta24", load_codebook()), "primary")
    live = serve_study("demo", "alice", suggestions=lambda: reference)
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    for dim in ("location", "symptom", "cause"):
        hinted = page.locator(f'fieldset[data-dim="{dim}"] button.hinted')
        assert hinted.count() == 1
        assert hinted.get_attribute("aria-pressed") == "false"
        assert "suggested" in hinted.inner_text() and "%" in hinted.inner_text()
    page.keyboard.press("n")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/2")
    assert not label_file(project, "demo", "alice").exists()
