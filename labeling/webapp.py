"""The labelling web app (Flask): queue, issue page, adjudication page and a small JSON API.

Pages are rendered on the server (Jinja2 autoescaping, Markdown through
:mod:`labeling.markdown`), so an issue page is one small HTML response and navigating is a plain
page load. ``static/label.js`` adds the keyboard: every choice has a key, ``n``/``p`` move on,
and a choice is saved at once through ``POST /api/label`` (or ``/api/final`` when adjudicating).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, abort, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from convfail.codebook import Codebook
from labeling.adjudication import Adjudication
from labeling.guard import SECURITY_HEADERS, RequestGuard
from labeling.issue_texts import IssueText
from labeling.markdown import render_markdown, scrub
from labeling.render_ahead import AHEAD, RenderAhead
from labeling.render_worker import SHARED
from labeling.save_api import SaveRequest, save_response
from labeling.session import FILTERS, LabelingSession, QueueFilter, is_complete
from labeling.shortcuts import NAVIGATION_KEYS, TOP_DIMENSIONS, assign_shortcuts
from labeling.store import row_version
from labeling.suggestion_service import SuggestionService

HERE = Path(__file__).parent
MAX_REQUEST_BYTES = 256 * 1024  # a note is at most 5,000 characters; nothing bigger is sent
GITHUB_ISSUE = re.compile(
    r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/(issues|pull)/\d+$"
)
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
FAVICON_MAX_AGE = 24 * 3600  # seconds; Chromium otherwise requests /favicon.ico per page load


@dataclass(frozen=True)
class Choice:
    """One button of the panel. Its markup that is the same on every page (attributes, key and
    name) is escaped once, when the app starts: building it anew for the ~30 buttons of every
    issue page was more than half of the server's time per page (1.3 of 2.5 ms of CPU), paid
    twice per full load (the page and the next issue's prefetch)."""

    dimension: str
    name: str
    key: str
    label: str
    definition: str
    shortcut: str
    parent: str = ""
    attributes: Markup = field(init=False, repr=False, compare=False)
    caption: Markup = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parent = Markup(' data-parent="{}"').format(self.parent) if self.parent else ""
        attributes = Markup(' data-dim="{}"{} data-value="{}" data-key="{}" title="{}"').format(
            self.dimension, parent, self.name, self.shortcut, self.definition
        )
        caption = (
            Markup("<kbd>{}</kbd> {}").format(self.shortcut, self.label)
            if self.shortcut
            else Markup("{}").format(self.label)
        )
        object.__setattr__(self, "attributes", attributes)  # frozen: set once, here
        object.__setattr__(self, "caption", caption)


def codebook_choices(codebook: Codebook) -> dict[str, list[Choice]]:
    """The buttons of every dimension, in codebook order, with their shortcut keys."""
    keys = assign_shortcuts(codebook)
    return {
        dim: [
            Choice(
                dim,
                c.name,
                c.key,
                c.paper_name,
                c.definition,
                keys[dim].get(c.key, ""),
                c.parent or "",
            )
            for c in codebook[dim]
        ]
        for dim in (*TOP_DIMENSIONS, "subcause")
    }


def issue_url(endpoint: str, issue: IssueText | None, query: str = "") -> str:
    """The page of ``issue`` (empty when there is none, e.g. no next issue)."""
    if issue is None:
        return ""
    owner, name = issue.repository.split("/", 1)
    return url_for(endpoint, owner=owner, name=name, number=issue.number) + query


def github_link(issue: IssueText) -> str:
    """The issue's page on GitHub, only if it really is one (else built from the key, or none)."""
    if GITHUB_ISSUE.match(issue.url):
        return issue.url
    if REPOSITORY.match(issue.repository):
        return f"https://github.com/{issue.repository}/issues/{issue.number}"
    return ""


def reference_repository(issue: IssueText) -> str:
    """The repository ``#N`` in the issue's text points to (none unless it is a valid name)."""
    return issue.repository if REPOSITORY.match(issue.repository) else ""


def markdown_texts(issue: IssueText) -> list[tuple[str, str]]:
    """Every Markdown text the issue's page renders, with its repository for references."""
    repository = reference_repository(issue)
    texts = [issue.body] if issue.body else []
    return [(text, repository) for text in (*texts, *(c.body for c in issue.comments))]


def _scrub_output(value):
    """Jinja's ``finalize``: every value on a page is encodable (no lone surrogates)."""
    if isinstance(value, Markup):
        return Markup(scrub(str(value)))
    return scrub(value) if isinstance(value, str) else value


def history_rows(changes) -> list[dict]:
    """The history of one issue for the page, newest first."""
    return [
        {
            "at": c.at,
            "rater": c.rater,
            "field": c.field,
            "old": c.old,
            "new": c.new,
            "seconds": c.seconds,
            "undo": c.undo,
        }
        for c in reversed(changes)
    ]


def rater_votes(comparison) -> dict[str, dict[str, list[str]]]:
    """Who chose each value: ``{dimension: {value: [raters]}}``; sub-causes as ``cause/sub``."""
    votes: dict[str, dict[str, list[str]]] = {}
    for rater, values in comparison.values.items():
        for dim in TOP_DIMENSIONS:
            if values.get(dim):
                votes.setdefault(dim, {}).setdefault(values[dim], []).append(rater)
        if values.get("subcause"):
            key = f"{values['cause']}/{values['subcause']}"
            votes.setdefault("subcause", {}).setdefault(key, []).append(rater)
    return votes


def _queue_filter() -> QueueFilter:
    name = request.args.get("filter", "all")
    return QueueFilter(name if name in FILTERS else "all", request.args.get("converter", ""))


def create_app(
    session: LabelingSession,
    guard: RequestGuard,
    suggestions: SuggestionService | None = None,
    adjudication: Adjudication | None = None,
) -> Flask:
    """The app for one rater (or, with ``adjudication``, for the adjudicator)."""
    app = Flask(
        __name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static")
    )
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.jinja_env.globals["issue_url"] = issue_url
    app.jinja_env.globals["github_link"] = github_link
    app.jinja_env.finalize = _scrub_output
    codebook = session.codebook
    choices = codebook_choices(codebook)
    descriptions = {d: codebook[d].description for d in choices}

    def page_context(**extra) -> dict:
        return {
            "study": session.study.name,
            "rater": session.rater,
            "csrf": guard.token,
            "codebook_version": codebook.version,
            "choices": choices,
            "descriptions": descriptions,
            "navigation_keys": NAVIGATION_KEYS,
            "adjudicating": adjudication is not None,
            **extra,
        }

    @app.before_request
    def check_request():
        reason = guard.refusal(request.method, request.headers)
        if reason:
            return jsonify(error=f"refused: {reason}"), 403
        return None

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        """API callers (the page's script) get the reason as JSON, not an HTML error page."""
        if not request.path.startswith("/api/"):
            return error
        reason = (
            f"request larger than {MAX_REQUEST_BYTES // 1024} KB"
            if error.code == 413
            else (error.description or error.name)
        )
        return jsonify(error=reason), error.code

    @app.after_request
    def security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/api/") or response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    def issue_or_404(owner: str, name: str, number: int):
        issue = session.issue(f"{owner}/{name}", number)
        if issue is None:
            abort(404)
        return issue

    @app.get("/")
    def home():
        return redirect(url_for("adjudicate_queue" if adjudication else "resume"))

    @app.get("/resume")
    def resume():
        """Continue where the rater stopped: the first issue not yet complete."""
        issue = session.first_unlabelled()
        return redirect(issue_url("issue_page", issue) if issue else url_for("finished"))

    @app.get("/done")
    def finished():
        done, total = session.progress()
        return render_template(
            "done.html",
            **page_context(
                done=done,
                total=total,
                first_open=session.first_unlabelled(),
                other_raters=session.other_raters(),
                queue_filter=_queue_filter(),
            ),
        )

    @app.get("/search")
    def search():
        query = request.args.get("q", "")
        exact, found = session.search(query)
        if exact is not None:
            return redirect(issue_url("issue_page", exact))
        labels = session.labels()
        done, total = session.progress()
        return render_template(
            "queue.html",
            **page_context(
                issues=found,
                labels=labels,
                complete={k: is_complete(v, codebook) for k, v in labels.items()},
                disagreements=session.disagreements(),
                filters=FILTERS,
                queue_filter=QueueFilter(),
                converters=session.converters,
                done=done,
                total=total,
                query=query,
            ),
        )

    @app.get("/favicon.ico")
    def favicon():
        """No icon, and a browser that asks again on every page load is told once a day."""
        response = app.response_class(status=204, mimetype="image/x-icon")
        response.cache_control.max_age = FAVICON_MAX_AGE
        return response

    @app.get("/queue")
    def queue():
        if adjudication is not None:
            return redirect(url_for("adjudicate_queue"))
        queue_filter = _queue_filter()
        labels = session.labels()
        done, total = session.progress()
        return render_template(
            "queue.html",
            **page_context(
                issues=session.queue(queue_filter),
                labels=labels,
                complete={k: is_complete(v, codebook) for k, v in labels.items()},
                disagreements=session.disagreements(),
                filters=FILTERS,
                queue_filter=queue_filter,
                converters=session.converters,
                done=done,
                total=total,
            ),
        )

    def render_texts(issue) -> dict:
        repository = reference_repository(issue)
        return {
            "body_html": render_markdown(issue.body, repository) if issue.body else "",
            "comments": [
                {
                    "author": c.author,
                    "created_at": c.created_at,
                    "html": render_markdown(c.body, repository),
                }
                for c in issue.comments
            ],
            "github": github_link(issue),
        }

    @app.get("/issue/<owner>/<name>/<int:number>")
    def issue_page(owner: str, name: str, number: int):
        if adjudication is not None:
            abort(404)
        issue = issue_or_404(owner, name, number)
        queue_filter = _queue_filter()
        previous, following = session.neighbours(issue.key, queue_filter)
        label = session.labels().get(issue.key, {})
        done, total = session.progress()
        with ahead.exclusive(issue.key):
            texts = render_texts(issue)
            hints = suggestions.suggest(issue.document()) if suggestions else {}
        ahead.ahead([following, previous, *session.upcoming(issue.key, queue_filter, AHEAD)])
        return render_template(
            "issue.html",
            **page_context(
                issue=issue,
                label=label,
                hints={k: {"value": v.value, "confidence": v.confidence} for k, v in hints.items()},
                previous=previous,
                following=following,
                previous_url=issue_url("issue_page", previous, queue_filter.query()),
                next_url=issue_url("issue_page", following, queue_filter.query())
                or url_for("finished") + queue_filter.query(),
                version=row_version(label),
                history=history_rows(session.history(issue.key)),
                differing=[],
                votes={},
                queue_filter=queue_filter,
                done=done,
                total=total,
                save_url=url_for("save_label"),
                **texts,
            ),
        )

    @app.post("/api/label")
    def save_label():
        if adjudication is not None:
            abort(404)
        wanted = SaveRequest.parse(request.get_json(silent=True))
        if isinstance(wanted, str):
            return jsonify(error=wanted), 400
        if session.issue(wanted.repository, wanted.number) is None:
            return jsonify(
                error=f"issue {wanted.repository}#{wanted.number} is not in study "
                f"{session.study.name}"
            ), 404
        body, status = save_response(
            lambda w: session.store.save(
                w.repository, w.number, w.changes, w.base, w.seconds, w.undo
            ),
            wanted,
        )
        if status == 200:
            body.update(complete=is_complete(body["label"], codebook), progress=session.progress())
            if suggestions:
                suggestions.label_saved()
        return jsonify(body), status

    def prepare(issue: IssueText) -> None:
        SHARED.render(markdown_texts(issue))
        render_texts(issue)
        if suggestions:
            suggestions.suggest(issue.document())

    ahead = RenderAhead(prepare)
    if adjudication is None:
        start = session.first_unlabelled()
        index = session.position[start.key] if start else 0
        ahead.ahead(session.issues[index : index + 3])

    if adjudication is not None:
        register_adjudication(app, session, adjudication, page_context, render_texts)
    return app


def register_adjudication(
    app: Flask, session, adjudication: Adjudication, page_context, render_texts
) -> None:
    """The adjudicator's pages: the list of disagreements and one issue side by side."""
    codebook = session.codebook

    @app.get("/adjudicate")
    def adjudicate_queue():
        final = adjudication.final.read()
        items = [
            (c, session.issue(*c.key), adjudication.is_resolved(c, final))
            for c in adjudication.disagreements()
        ]
        return render_template(
            "adjudicate_queue.html",
            **page_context(
                items=items, raters=adjudication.raters, resolved=sum(1 for *_, r in items if r)
            ),
        )

    @app.get("/adjudicate/<owner>/<name>/<int:number>")
    def adjudicate_issue(owner: str, name: str, number: int):
        key = (f"{owner}/{name}", number)
        disagreements = adjudication.disagreements()
        index = next((i for i, c in enumerate(disagreements) if c.key == key), None)
        if index is None:
            abort(404)
        comparison = disagreements[index]
        issue = session.issue(*key)
        previous = session.issue(*disagreements[index - 1].key) if index > 0 else None
        following = (
            session.issue(*disagreements[index + 1].key) if index + 1 < len(disagreements) else None
        )
        final = adjudication.final.read()
        label = final.get(key) or comparison.agreed
        history = session.history(key)
        return render_template(
            "adjudicate.html",
            **page_context(
                issue=issue,
                comparison=comparison,
                raters=adjudication.raters,
                label=label,
                hints={},
                previous=previous,
                following=following,
                previous_url=issue_url("adjudicate_issue", previous),
                next_url=issue_url("adjudicate_issue", following),
                differing=comparison.differing,
                votes=rater_votes(comparison),
                resolved=adjudication.is_resolved(comparison, final),
                version=row_version(final.get(key)),
                history=history_rows(history),
                save_url=url_for("save_final"),
                **render_texts(issue),
            ),
        )

    @app.post("/api/final")
    def save_final():
        wanted = SaveRequest.parse(request.get_json(silent=True))
        if isinstance(wanted, str):
            return jsonify(error=wanted), 400
        body, status = save_response(adjudication.decide, wanted)
        if status == 200:
            body["complete"] = is_complete(body["label"], codebook)
        return jsonify(body), status
