"""The rater's (and leader's self-assessment) questionnaire behind a personal link."""

from __future__ import annotations

import secrets

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from assessment import responses
from assessment.cohorts import cohort_instrument, cohort_languages
from assessment.core.sealing import BrowserKey
from assessment.extensions import csrf, limiter
from assessment.forms import ResponseForm
from assessment.invitations import find_link
from assessment.models import Invitation, Relationship
from assessment.ratelimits import RATER_LINK, link_key, unknown_link_allowed
from assessment.responses import Unavailable
from assessment.web import db_session, settings

blueprint = Blueprint("rate", __name__, url_prefix="/r")

UNAVAILABLE_PAGES = {
    Unavailable.SUBMITTED: (
        409,
        lazy_gettext("Your answers are already in"),
        lazy_gettext(
            "This link has been used to submit answers, and each link can be used once. "
            "Thank you for taking part. If you think this is a mistake, contact the coach who "
            "invited you."
        ),
    ),
    Unavailable.CLOSED: (
        403,
        lazy_gettext("This feedback round has closed"),
        lazy_gettext(
            "The coach has closed this round, so no more answers can be taken. Anything you "
            "saved as a draft has been kept, but it is not included in any report."
        ),
    ),
}
# Language names in their own language, for the switch on the form.
LANGUAGE_NAMES = {"en": "English", "es": "Español", "cy": "Cymraeg"}


def _unavailable_page(reason: Unavailable) -> tuple[str, int]:
    status, title, message = UNAVAILABLE_PAGES[reason]
    return render_template("error.html", title=title, message=message), status


@blueprint.route("/<token>", methods=["GET", "POST"])
@limiter.limit(RATER_LINK, key_func=link_key)
# The form checks its own CSRF token, so that an expired one re-shows the answers instead of
# the generic "form expired" page that would throw them away.
@csrf.exempt
def respond(token: str) -> str | Response | tuple[str, int]:
    link = find_link(db_session(), token)
    if (link is None or not link.live) and not unknown_link_allowed():
        return render_template(
            "error.html",
            title=_("Too many tries"),
            message=_("Too many links that do not work have come from here. Please wait a minute."),
        ), 429
    if link is not None and not link.live:
        return render_template(
            "error.html",
            title=_("This link was withdrawn"),
            message=_(
                "The coach who invited you has stopped this link. If you should still give "
                "your feedback, ask them for a new link: anything you saved is kept."
            ),
        ), 410
    invitation = link.invitation if link is not None else None
    if invitation is None:
        return render_template(
            "error.html",
            title=_("This link is not valid"),
            message=_(
                "Please check you copied the whole link from your invitation: every link we "
                "sent you works, in the invitation and in each reminder. If it still does not "
                "work, the coach may have withdrawn it: ask the coach who invited you for a "
                "new one."
            ),
        ), 404
    cohort = invitation.leader.cohort
    languages = cohort_languages(cohort)
    language = invitation.language if invitation.language in languages else languages[0]
    g.page_language = language
    submission = _submission()
    if request.method == "POST" and responses.submitted_by(invitation, submission):
        return _thanks(language)  # the same form again, e.g. a double click
    if (reason := responses.availability(invitation)) is not None:
        return _unavailable_page(reason)
    try:
        return _questionnaire(token, invitation, languages, language, submission)
    except responses.LinkUnavailable as error:
        # Another request used the link (or the coach closed the round) while this one was on
        # its way; nothing of this request was written.
        if request.form.get("action") == "autosave":
            return Response(status=409)
        if responses.submitted_by(invitation, submission):
            return _thanks(language)
        return _unavailable_page(error.reason)


def _submission() -> str:
    """The random value that names one rendering of the form (see responses.submission_key)."""
    posted = request.form.get("submission", "")
    return posted if 16 <= len(posted) <= 64 and posted.isascii() else secrets.token_urlsafe(16)


def _thanks(language: str) -> Response:
    if language == "en":
        return redirect(url_for("rate.thanks"))
    return redirect(url_for("rate.thanks", lang=language))


def _questionnaire(
    token: str, invitation: Invitation, languages: list[str], language: str, submission: str
) -> str | Response | tuple[str, int]:
    instrument = cohort_instrument(invitation.leader.cohort, language)
    is_self = invitation.relationship_ == Relationship.SELF
    form = ResponseForm()
    status = 200
    errors: dict[str, str] = {}
    answers, saved_elsewhere = responses.draft_answers(invitation, _browser_key)
    message = None
    if request.method == "POST":
        answers, errors = responses.read_answers(instrument, request.form, predictions=is_self)
        if not form.validate_on_submit():
            # Only the CSRF token can fail here: keep what they typed and let them resend it.
            message = _(
                "Your session expired before you sent this. Your answers are still below: "
                "please send them again."
            )
            status = 400
        else:
            action = request.form.get("action", "")
            if action == "autosave":  # rate.js, in the background: a draft, nothing shown
                if not errors:
                    _save_draft(invitation, answers)
                return Response(status=204 if not errors else 422)
            if action.startswith("language:") and action[9:] in languages:
                # Switching language keeps what was answered so far: it is saved as a draft.
                if not errors and (answers.ratings or answers.comments):
                    _save_draft(invitation, answers)
                responses.set_language(db_session(), invitation, action[9:])
                return redirect(url_for("rate.respond", token=token))
            if errors:
                status = 422
                message = _("Some answers need your attention; they are marked below.")
            elif action == "submit":
                missing = responses.missing_items(instrument, answers)
                if not missing:
                    responses.submit(
                        db_session(), instrument, invitation, answers, submission=submission
                    )
                    return _thanks(language)
                _save_draft(invitation, answers)
                errors = dict.fromkeys(
                    missing,
                    _("Choose an answer, or “%(na)s”")
                    % {"na": instrument.scale.not_able_to_rate_label},
                )
                message = _(
                    "%(missing)d of %(total)d statements still need an answer. "
                    "Your answers so far have been saved."
                ) % {"missing": len(missing), "total": len(instrument.items)}
                status = 422
            else:
                _save_draft(invitation, answers)
                return redirect(url_for("rate.respond", token=token, saved=1))
    return render_template(
        "rate/form.html",
        form=form,
        submission=submission,
        instrument=instrument,
        leader=invitation.leader,
        is_self=is_self,
        prediction_field=responses.PREDICTION_FIELD,
        relationship=invitation.relationship_.value,
        answers=answers,
        errors=errors,
        message=message,
        language=language,
        languages=[(tag, LANGUAGE_NAMES.get(tag, tag)) for tag in languages],
        saved=request.args.get("saved") is not None and request.method == "GET",
        saved_elsewhere=saved_elsewhere and request.method == "GET",
    ), status


DRAFT_COOKIE = "cl360_draft_{}"
DRAFT_COOKIE_DAYS = 180


def _browser_key(key_id: str) -> BrowserKey | None:
    return BrowserKey.from_cookie(key_id, request.cookies.get(DRAFT_COOKIE.format(key_id)))


def _save_draft(invitation: Invitation, answers: responses.Answers) -> None:
    """Save the draft sealed with this browser's key, handed to it with the response."""
    key = responses.browser_key(invitation, _browser_key)
    responses.save_draft(db_session(), invitation, answers, key)
    g.draft_key = key


@blueprint.after_request
def hand_over_the_draft_key(response: Response) -> Response:
    """The key of a draft saved in this request, as a cookie only this browser sends back
    (HttpOnly: no script reads it; only rater pages receive it)."""
    key = g.pop("draft_key", None)
    if key is not None:
        response.set_cookie(
            DRAFT_COOKIE.format(key.id),
            key.cookie_value,
            max_age=DRAFT_COOKIE_DAYS * 24 * 3600,
            path=f"{blueprint.url_prefix}/",
            secure=settings().production,
            httponly=True,
            samesite="Lax",
        )
    return response


@blueprint.route("/thanks")
def thanks() -> str:
    if request.args.get("lang") in LANGUAGE_NAMES:
        g.page_language = request.args["lang"]
    return render_template("rate/thanks.html")
