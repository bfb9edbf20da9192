"""A rater's day in a real browser: resume, search and jump, undo, history, GitHub, finishing."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from playwright.sync_api import expect

from labeling.history import history_file

pytestmark = pytest.mark.browser

FULL = {"location": "export", "symptom": "hang", "cause": "typo"}


def test_resume_opens_the_first_issue_not_yet_complete(demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    for number in (1, 2):
        live.session.store.save("pytorch/pytorch", number, FULL)
    live.session.store.save("pytorch/pytorch", 3, {"cause": "typo"})  # partial: not done
    page.goto(f"{live.url}/")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/3")
    page.click("#resume")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/3")


def test_search_jumps_to_a_number_and_lists_title_matches(demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/queue")
    page.keyboard.press("/")
    page.keyboard.type("#11")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/issue/onnx/tensorflow-onnx/11")
    page.keyboard.press("/")
    page.keyboard.type("pytorch/pytorch#4")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/4")
    page.fill("#search", "TF issue")
    page.press("#search", "Enter")
    expect(page.locator("#queue tbody tr")).to_have_count(2)
    page.fill("#search", "no such words")
    page.press("#search", "Enter")
    expect(page.locator("#no-match")).to_be_visible()


def test_undo_history_and_time_on_the_issue(project, demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    page.wait_for_timeout(1200)  # a rater reads a little before choosing
    page.keyboard.press("a")  # incompatibility
    page.wait_for_selector('[data-dim="cause"][data-value="incompatibility"][aria-pressed="true"]')
    page.keyboard.press("7")  # external
    page.wait_for_selector('[data-dim="subcause"][data-value="external"][aria-pressed="true"]')
    expect(page.locator("#status")).to_have_attribute("data-state", "saved")
    page.keyboard.press("d")  # algorithmic_error drops the sub-cause
    page.wait_for_selector(
        '[data-dim="cause"][data-value="algorithmic_error"][aria-pressed="true"]'
    )
    expect(page.locator("#status")).to_contain_text("saved cause")
    page.keyboard.press("u")  # back to incompatibility/external in one step
    page.wait_for_selector('[data-dim="subcause"][data-value="external"][aria-pressed="true"]')
    expect(page.locator("#status")).to_contain_text("undone")
    row = live.session.store.read()[("pytorch/pytorch", 1)]
    assert (row["cause"], row["subcause"]) == ("incompatibility", "external")

    lines = history_file(demo_study, "alice").read_text().splitlines()
    changes = [json.loads(line) for line in lines]
    assert [(c["field"], c["old"], c["new"], c["undo"]) for c in changes] == [
        ("cause", "", "incompatibility", False),
        ("subcause", "", "external", False),
        ("cause", "incompatibility", "algorithmic_error", False),
        ("subcause", "external", "", False),
        ("cause", "algorithmic_error", "incompatibility", True),
        ("subcause", "", "external", True),
    ]
    assert all(c["rater"] == "alice" and c["at"].endswith("Z") for c in changes)
    assert changes[0]["seconds"] >= 1.0 and changes[-1]["seconds"] >= changes[0]["seconds"]

    page.reload()
    page.click("#history summary")
    history = page.inner_text("#history-list")
    assert "cause: algorithmic_error → incompatibility (undo)" in history
    assert history.count("alice") == 6


def test_o_opens_the_checked_github_link(make_study, serve_study, page):
    make_study(
        "links",
        [{"repository": "pytorch/pytorch", "number": 7}, {"repository": "a/b", "number": 8}],
    )
    # nothing reaches the internet: GitHub is a stand-in page
    page.context.route("https://github.com/**", lambda route: route.fulfill(body="stand-in"))
    live = serve_study("links", "alice")
    live.session.issues[1] = replace(live.session.issues[1], url="javascript:alert(1)")
    page.goto(f"{live.url}/issue/pytorch/pytorch/7")
    with page.expect_popup() as popup:
        page.keyboard.press("o")
    assert popup.value.url == "https://github.com/pytorch/pytorch/issues/7"
    page.goto(f"{live.url}/issue/a/b/8")
    assert page.get_attribute("#github-link", "href") == "https://github.com/a/b/issues/8"
    assert page.locator('a[href^="javascript"]').count() == 0


def test_the_last_issue_leads_to_a_finished_page_with_the_next_step(demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    for key in live.session.position:
        if key != ("onnx/tensorflow-onnx", 11):
            live.session.store.save(*key, FULL)
    page.goto(f"{live.url}/issue/onnx/tensorflow-onnx/11")
    for key in ("4", "t", "x"):
        page.keyboard.press(key)
    expect(page.locator("#status")).to_contain_text("issue complete")
    page.keyboard.press("n")
    page.wait_for_url(f"{live.url}/done")
    finished = page.inner_text("#finished")
    assert "All 7 issues are labelled" in finished
    assert "convfail label agreement --study demo" in finished


def test_an_unfinished_study_says_what_is_left(demo_study, serve_study, page):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/onnx/tensorflow-onnx/11")
    page.keyboard.press("n")
    page.wait_for_url(f"{live.url}/done")
    assert "0 of 7 issues are labelled" in page.inner_text("#finished")
    page.click("#continue")
    page.wait_for_url(f"{live.url}/issue/pytorch/pytorch/1")


@pytest.mark.parametrize("width", [800, 1024, 1400])
def test_the_layout_leaves_room_for_the_text_from_800_pixels(
    demo_study, serve_study, chromium, width
):
    live = serve_study("demo", "alice")
    context = chromium.new_context(viewport={"width": width, "height": 700})
    try:
        page = context.new_page()
        page.goto(f"{live.url}/issue/pytorch/pytorch/1")
        text = page.locator("article.issue").bounding_box()
        panel = page.locator("aside.panel").bounding_box()
        assert text["width"] >= 0.5 * width - 40, text
        assert panel["x"] + panel["width"] <= width  # the choices are on screen, not off it
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.goto(f"{live.url}/queue")
        state = page.locator("#queue thead th").last.bounding_box()
        assert state["x"] + state["width"] <= width
    finally:
        context.close()
