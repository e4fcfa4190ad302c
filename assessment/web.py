"""Request plumbing shared by every view: the per-request session, sign-in, headers, errors."""

from __future__ import annotations

import codecs
import functools
import hmac
import io
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from assessment import jobs
from assessment.config import Settings
from assessment.database import Database, is_unavailable
from assessment.disclosures import content_chunks
from assessment.mail import Postman
from assessment.models import Artefact, Coach, Job

F = TypeVar("F", bound=Callable[..., Any])

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Invitation tokens live in URLs: never let them leave in a Referer header.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


HSTS = "max-age=31536000; includeSubDomains"
"""Production only: browsers then refuse plain HTTP to this host for a year."""


def database() -> Database:
    return current_app.extensions["cl360.db"]


def settings() -> Settings:
    return current_app.extensions["cl360.settings"]


def postman() -> Postman:
    """This request's mail: SMTP when MAIL_SERVER is set, otherwise the in-app outbox.

    What a view queues goes out once the request's transaction has committed (see
    :class:`assessment.mail.Postman`); the coach is told here of anything refused.
    """
    if "postman" not in g:
        g.postman = Postman(settings().mail, settings().base_url)
    return g.postman


def page_locale() -> str:
    """The language of this page: set by the rater and leader views, English elsewhere."""
    return g.get("page_language") or "en"


READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session() -> Session:
    """The one session of this request; committed once after the view, rolled back on error.

    A request that may change state (any method but GET, HEAD, OPTIONS, or a view marked
    :func:`writes`) gets a writing session, which on SQLite takes the write lock first
    (:mod:`assessment.database`).
    """
    if "db_session" not in g:
        view = current_app.view_functions.get(request.endpoint or "")
        writes_anyway = getattr(view, "writes", False)
        g.db_session = database().session(
            writes=writes_anyway or request.method not in READING_METHODS
        )
    return g.db_session


def writes(view: F) -> F:
    """Mark a GET view that records something (a download that enters the disclosure ledger)."""
    view.writes = True  # type: ignore[attr-defined]
    return view


def send_artefact(artefact: Artefact, *, inline: bool = False) -> Response:
    """A stored disclosure as a download (CSV with a byte-order mark, so Excel reads UTF-8).

    Streamed: a large cohort's export is inflated piece by piece as the client reads it.
    """
    pieces = content_chunks(artefact)
    if artefact.media_type.startswith("text/csv"):
        pieces = itertools.chain([codecs.BOM_UTF8], pieces)
    return send_file(
        io.BufferedReader(_Reader(pieces)),
        mimetype=artefact.media_type,
        as_attachment=not inline,
        download_name=artefact.filename,
    )


class _Reader(io.RawIOBase):
    """A readable file over a stream of byte strings, for ``send_file``."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._left = piece
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def install(app: Flask) -> None:
    @app.after_request
    def commit_and_secure(response: Response) -> Response:
        # Exactly one commit per request. A view that must not change anything simply does
        # not flush changes; an exception anywhere skips this and the teardown rolls back.
        if "db_session" in g:
            g.db_session.commit()
        if "postman" in g:
            _send_mail(g.postman)
        for callback in g.pop("after_commit", []):
            callback()
        response.headers.update(SECURITY_HEADERS)
        if settings().production:
            response.headers["Strict-Transport-Security"] = HSTS
        if request.endpoint != "static":
            # Every page, export and PDF is personal or confidential: no cache keeps a copy.
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.teardown_request
    def close_session(error: BaseException | None) -> None:
        db = g.pop("db_session", None)
        if db is not None:
            if error is not None:
                db.rollback()
            db.close()

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_template(
            "error.html",
            title="This form has expired",
            message="For your security, forms expire after a while. Go back, reload the page "
            "and try again; nothing you saved before has been lost.",
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        rollback()
        # A failed commit surfaces here, wrapped as a 500 around the database's own error.
        original = getattr(error, "original_exception", None)
        if original is not None and is_unavailable(original):
            return database_unavailable(original)
        if error.code == 429:
            retry = {"Retry-After": "60"}
            if answers_posted():  # never refuse answers by losing them
                return answers_back(429, retry)
            page = render_template(
                "error.html",
                title="Too many tries",
                message="There have been too many attempts from here or for this account. "
                "Please wait a few minutes, then try again.",
            )
            return page, 429, retry
        return render_template(
            "error.html", title=error.name, message=error.description
        ), error.code or 500

    @app.errorhandler(Exception)
    def server_error(error: Exception) -> ResponseReturnValue:
        rollback()
        if is_unavailable(error):
            return database_unavailable(error)
        current_app.logger.exception("unhandled error", exc_info=error)
        return render_template(
            "error.html",
            title="Something went wrong",
            message="The change you made was not saved. Please try again in a moment.",
        ), 500

    @app.context_processor
    def signed_in_coach() -> dict[str, Any]:
        # Error pages for an unreachable database must render without asking it anything.
        unavailable = g.get("database_unavailable", False)
        return {"current_coach": None if unavailable else current_coach()}


RETRY_AFTER_SECONDS = 30
FORM_KEYS = frozenset({"csrf_token", "submission"})
SCALE_ANSWER = re.compile(r"\A(?:\d{1,2}|na)?\Z")


def database_unavailable(error: BaseException) -> ResponseReturnValue:
    """503 with Retry-After for a database that cannot serve now, nothing of the request kept."""
    g.database_unavailable = True
    current_app.logger.warning("database unavailable: %s", error.__class__.__name__)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if answers_posted():
        return answers_back(503, headers)
    page = render_template(
        "error.html",
        title="The database is not answering",
        message="The product cannot reach its database just now. Nothing you did in this step "
        f"was saved. Please try again in a minute or so (the server suggests "
        f"{RETRY_AFTER_SECONDS} seconds).",
    )
    return page, 503, headers


def answers_posted() -> bool:
    return request.endpoint == "rate.respond" and request.method == "POST"


def answers_back(status: int, headers: dict[str, str]) -> ResponseReturnValue:
    """A rater's posted answers, refused for now, back on a page that sends them again unchanged
    (with the same submission key, so a retry that crosses a late success cannot double up)."""
    if request.form.get("action") == "autosave":
        return Response(status=status, headers=headers)
    fields = [(k, v) for k, v in request.form.items(multi=True) if k != "action"]
    page = render_template(
        "rate/resend.html",
        fields=fields,
        # What the rater wrote is shown to copy; scale points and form keys stay hidden.
        written={k for k, v in fields if k not in FORM_KEYS and not SCALE_ANSWER.match(v)},
        action=request.form.get("action", "save"),
    )
    return page, status, headers


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once this request's transaction has committed (dropped on rollback)."""
    g.setdefault("after_commit", []).append(callback)


def start_job(name: str, *, upload: bytes | None = None, **ids: int) -> Job:
    """Record a job for the signed-in coach and have it run once this request commits
    (docs/jobs.md): a runner elsewhere must never look for a job a rollback took away."""
    coach = signed_in_coach()
    record = jobs.submit(
        db_session(), name, requested_by=coach.email, coach_id=coach.id, upload=upload, **ids
    )
    runner: jobs.Runner = current_app.extensions["cl360.jobs"]
    job_id = record.id
    after_commit(lambda: runner.enqueue(job_id))
    return record


def _send_mail(postman: Postman) -> None:
    """Send what the committed request queued and tell the coach of anything refused."""
    try:
        failures = postman.send_queued(database())
    except SQLAlchemyError:
        # Sent, but the outcome could not be recorded; the change itself is safely committed.
        current_app.logger.exception("could not record the outcome of queued mail")
        return
    for failure in failures[:3]:
        flash(
            f"Not delivered: {failure}. The link it carried was withdrawn; send it again "
            "when the mail server works.",
            "error",
        )


def rollback() -> None:
    """Drop what a failed request flushed, and the mail it queued; error pages still pass
    through the commit hook."""
    g.pop("postman", None)
    g.pop("after_commit", None)
    if "db_session" in g:
        g.db_session.rollback()


def start_session(coach: Coach) -> None:
    """Sign this browser in as ``coach``: a fresh session that carries the coach's session key."""
    session.clear()
    session["coach_id"] = coach.id
    session["coach_key"] = coach.session_key
    g.coach = coach


def current_coach() -> Coach | None:
    """The signed-in coach, or None; a session whose key the coach has since replaced (by
    signing out or a new password) is not signed in any more."""
    if "coach" not in g:
        coach_id, key = session.get("coach_id"), session.get("coach_key", "")
        coach = db_session().get(Coach, coach_id) if coach_id is not None else None
        valid = coach is not None and hmac.compare_digest(coach.session_key, str(key))
        g.coach = coach if valid else None
    return g.coach


def signed_in_coach() -> Coach:
    """The coach of a view behind :func:`login_required`, who is signed in by then."""
    coach = current_coach()
    if coach is None:
        raise RuntimeError("signed_in_coach() outside a view behind login_required")
    return coach


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_coach() is None:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def require(condition: bool) -> None:
    """Refuse with 404 (not 403) so that ids of other coaches' objects reveal nothing."""
    if not condition:
        abort(404)
