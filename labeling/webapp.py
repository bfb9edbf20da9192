"""The labelling web app (Flask): queue, issue page, adjudication page and a small JSON API.

Pages are rendered on the server (Jinja2 autoescaping, Markdown through
:mod:`labeling.markdown`), so an issue page is one small HTML response and navigating is a plain
page load. ``static/label.js`` adds the keyboard: every choice has a key, ``n``/``p`` move on,
and a choice is saved at once through ``POST /api/label`` (or ``/api/final`` when adjudicating).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Flask, abort, jsonify, redirect, render_template, request, url_for

from convfail.codebook import Codebook
from convfail.errors import ConvfailError
from labeling.adjudication import Adjudication
from labeling.guard import SECURITY_HEADERS, RequestGuard
from labeling.issue_texts import IssueText
from labeling.markdown import render_markdown
from labeling.session import FILTERS, LabelingSession, QueueFilter, is_complete
from labeling.shortcuts import NAVIGATION_KEYS, TOP_DIMENSIONS, assign_shortcuts
from labeling.suggestion_service import SuggestionService

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Choice:
    dimension: str
    name: str
    key: str
    label: str
    definition: str
    shortcut: str
    parent: str = ""


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
    app.jinja_env.globals["issue_url"] = issue_url
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
        return redirect(url_for("adjudicate_queue" if adjudication else "queue"))

    @app.get("/favicon.ico")
    def favicon():
        return "", 204

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
        return {
            "body_html": render_markdown(issue.body) if issue.body else "",
            "comments": [
                {"author": c.author, "created_at": c.created_at, "html": render_markdown(c.body)}
                for c in issue.comments
            ],
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
        hints = suggestions.suggest(issue.document()) if suggestions else {}
        return render_template(
            "issue.html",
            **page_context(
                issue=issue,
                label=label,
                hints={k: {"value": v.value, "confidence": v.confidence} for k, v in hints.items()},
                previous=previous,
                following=following,
                previous_url=issue_url("issue_page", previous, queue_filter.query()),
                next_url=issue_url("issue_page", following, queue_filter.query()),
                differing=[],
                votes={},
                queue_filter=queue_filter,
                done=done,
                total=total,
                save_url=url_for("save_label"),
                **render_texts(issue),
            ),
        )

    @app.post("/api/label")
    def save_label():
        if adjudication is not None:
            abort(404)
        payload = request.get_json(silent=True) or {}
        try:
            repository, number = str(payload["repository"]), int(payload["number"])
            field, value = str(payload["field"]), str(payload.get("value") or "")
        except (KeyError, TypeError, ValueError):
            return jsonify(error="expected repository, number, field and value"), 400
        if session.issue(repository, number) is None:
            return jsonify(
                error=f"issue {repository}#{number} is not in study {session.study.name}"
            ), 404
        try:
            row = session.store.save(repository, number, {field: value})
        except ConvfailError as exc:
            return jsonify(error=str(exc)), 422
        if suggestions:
            suggestions.label_saved()
        return jsonify(label=row, complete=is_complete(row, codebook), progress=session.progress())

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
                save_url=url_for("save_final"),
                **render_texts(issue),
            ),
        )

    @app.post("/api/final")
    def save_final():
        payload = request.get_json(silent=True) or {}
        try:
            key = (str(payload["repository"]), int(payload["number"]))
            field, value = str(payload["field"]), str(payload.get("value") or "")
        except (KeyError, TypeError, ValueError):
            return jsonify(error="expected repository, number, field and value"), 400
        try:
            row = adjudication.decide(key, field, value)
        except ConvfailError as exc:
            return jsonify(error=str(exc)), 422
        return jsonify(label=row, complete=is_complete(row, codebook))
