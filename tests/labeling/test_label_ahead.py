"""Issues prepared before the rater opens them: the child renderer and the queue ahead."""

from __future__ import annotations

import time
import uuid

from convfail.codebook import load_codebook
from convfail.dataset import load_study
from labeling.guard import RequestGuard
from labeling.markdown import is_rendered, render_markdown, render_uncached
from labeling.render_ahead import AHEAD
from labeling.render_worker import RenderWorker
from labeling.session import LabelingSession, QueueFilter
from labeling.webapp import create_app


def bodies_study(make_study, count: int):
    """``count`` issues of a/b, each with a body and a comment no other test renders."""
    marker = uuid.uuid4().hex
    issues = [{"repository": "a/b", "number": n} for n in range(1, count + 1)]
    records = [
        {
            "repository": "a/b",
            "number": n,
            "body": f"issue {n} {marker}: see #{n + 1}, cc @dev\n\n```\nTraceback\n```",
            "comments": [{"author": "dev", "body": f"~~wrong~~ fixed {marker} {n}"}],
        }
        for n in range(1, count + 1)
    ]
    make_study("ahead", issues, records)


def test_the_child_process_renders_what_the_server_would():
    marker = uuid.uuid4().hex
    texts = [
        (f"fixes #12 {marker} <details><summary>log</summary>\n\nx\n</details>", "a/b"),
        (f"broken emoji \ud83d {marker} - [x] done", "a/b"),
        (f"<script>alert(1)</script> {marker} https://github.com/a/b/pull/3.", ""),
    ]
    worker = RenderWorker()
    worker.render(texts)
    for text, repository in texts:
        assert is_rendered(text, repository)
        assert render_markdown(text, repository) == render_uncached(text, repository)
    assert "<script>" not in render_markdown(*texts[2])


def test_upcoming_follows_the_filter(project, make_study):
    bodies_study(make_study, 8)
    book = load_codebook()
    session = LabelingSession(load_study("ahead", book), "alice", book, project / "data")
    cause = book.valid_names("cause")[0]
    subcauses = book.valid_names("subcause", cause)
    complete = {"location": "export", "symptom": "crash", "cause": cause}
    session.store.save("a/b", 3, {**complete, "subcause": subcauses[0] if subcauses else ""})
    everything = session.upcoming(("a/b", 1), QueueFilter(), 3)
    unlabelled = session.upcoming(("a/b", 1), QueueFilter("unlabelled"), 3)
    last = session.upcoming(("a/b", 7), QueueFilter(), 3)
    assert [t.number for t in everything] == [2, 3, 4]
    assert [t.number for t in unlabelled] == [2, 4, 5]
    assert [t.number for t in last] == [8]


def test_a_page_view_prepares_the_issues_after_it(project, make_study):
    bodies_study(make_study, 9)
    book = load_codebook()
    session = LabelingSession(load_study("ahead", book), "alice", book, project / "data")
    client = create_app(session, RequestGuard()).test_client()
    assert client.get("/issue/a/b/5").status_code == 200
    wanted = [session.issue("a/b", n) for n in range(6, 6 + AHEAD)]
    texts = [(t.body, "a/b") for t in wanted] + [(t.comments[0].body, "a/b") for t in wanted]
    deadline = time.monotonic() + 120  # a loaded machine; the assertion is on what, not how fast
    while not all(is_rendered(*t) for t in texts) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(is_rendered(*t) for t in texts)
    assert not is_rendered(session.issue("a/b", 9).body, "a/b")
