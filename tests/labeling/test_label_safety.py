"""Several tabs and a failing disk, in a real browser: no answer is lost or silently replaced."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from convfail.dataset import read_csv
from convfail.records import LABEL_COLUMNS

pytestmark = pytest.mark.browser

CAUSE = '[data-dim="cause"][data-value="{}"]'
LOCATION = '[data-dim="location"][data-value="{}"]'


def saved_row(project, rater="alice", number=1):
    path = project / "data" / "studies" / "demo" / "labels" / f"{rater}.csv"
    rows = read_csv(path, LABEL_COLUMNS)
    return rows[rows["number"] == str(number)].iloc[0]


def pressed(page, selector):
    page.wait_for_selector(f'{selector}[aria-pressed="true"]')


def test_a_stale_tab_gets_both_answers_and_chooses(project, demo_study, serve_study, chromium):
    live = serve_study("demo", "alice")
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    first, second = context.new_page(), context.new_page()
    try:
        for tab in (first, second):
            tab.goto(f"{live.url}/issue/pytorch/pytorch/1")
        first.keyboard.press("a")  # incompatibility
        pressed(first, CAUSE.format("incompatibility"))
        expect(first.locator("#status")).to_have_attribute("data-state", "saved")

        second.keyboard.press("x")  # typo, on a page that still shows no answer
        expect(second.locator("#conflict")).to_be_visible()
        rows = second.inner_text("#conflict-rows")
        assert "incompatibility" in rows and "typo" in rows
        assert saved_row(project).cause == "incompatibility"  # nothing was overwritten
        assert second.get_attribute(CAUSE.format("typo"), "aria-pressed") == "false"

        second.click("#keep-mine")
        pressed(second, CAUSE.format("typo"))
        expect(second.locator("#status")).to_have_attribute("data-state", "saved")
        assert saved_row(project).cause == "typo"

        first.keyboard.press("2")  # node_conversion, but this tab still shows incompatibility
        expect(first.locator("#conflict")).to_be_visible()
        first.click("#keep-theirs")
        pressed(first, CAUSE.format("typo"))
        assert first.get_attribute(LOCATION.format("node_conversion"), "aria-pressed") == "false"
        row = saved_row(project)
        assert (row.cause, row.location) == ("typo", "")

        first.keyboard.press("2")  # now based on the current answer: saved without a notice
        pressed(first, LOCATION.format("node_conversion"))
        expect(first.locator("#status")).to_have_attribute("data-state", "saved")
        assert first.is_hidden("#conflict")
        row = saved_row(project)
        assert (row.cause, row.location) == ("typo", "node_conversion")
    finally:
        context.close()


def test_quick_keys_in_one_tab_never_conflict_with_themselves(
    project, demo_study, serve_study, page
):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    for key in ("2", "q", "a", "7"):
        page.keyboard.press(key)
    pressed(page, '[data-dim="subcause"][data-value="external"]')
    expect(page.locator("#status")).to_have_attribute("data-state", "saved")
    assert page.is_hidden("#conflict")
    row = saved_row(project)
    assert (row.location, row.symptom, row.cause, row.subcause) == (
        "node_conversion",
        "crash",
        "incompatibility",
        "external",
    )


def test_a_full_disk_is_named_in_the_page_and_the_choice_kept(
    project, demo_study, serve_study, page, mounts
):
    labels = mounts.small(demo_study / "labels")
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    page.keyboard.press("a")
    pressed(page, CAUSE.format("incompatibility"))
    expect(page.locator("#status")).to_have_attribute("data-state", "saved")
    before = (labels / "alice.csv").read_bytes()

    filler = mounts.fill(labels)
    page.keyboard.press("x")
    expect(page.locator("#status")).to_have_attribute("data-state", "error")
    status = page.inner_text("#status")
    assert "the disk is full" in status and "kept" in status
    assert page.get_attribute(CAUSE.format("typo"), "aria-pressed") == "true"  # still on screen
    assert "unsaved" in (page.get_attribute(CAUSE.format("typo"), "class") or "")
    assert (labels / "alice.csv").read_bytes() == before  # the old file is whole
    assert not [p for p in labels.iterdir() if p.name.endswith(".tmp")]

    filler.unlink()
    page.click("#retry")
    expect(page.locator("#status")).to_have_attribute("data-state", "saved")
    assert saved_row(project).cause == "typo"
    assert page.is_hidden("#retry")


def test_a_read_only_folder_is_named_in_the_page(project, demo_study, serve_study, page, mounts):
    live = serve_study("demo", "alice")
    page.goto(f"{live.url}/issue/pytorch/pytorch/1")
    page.keyboard.press("a")
    expect(page.locator("#status")).to_have_attribute("data-state", "saved")
    mounts.read_only(demo_study / "labels")
    page.keyboard.press("x")
    expect(page.locator("#status")).to_have_attribute("data-state", "error")
    assert "read-only file system" in page.inner_text("#status")
    assert page.get_attribute(CAUSE.format("typo"), "aria-pressed") == "true"
    assert saved_row(project).cause == "incompatibility"
    page.keyboard.press("n")  # leaving with an unsaved choice asks once
    assert "not saved" in page.inner_text("#status")
    assert page.url.endswith("/issue/pytorch/pytorch/1")
