"""Coach sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from assessment import ratelimits
from assessment.accounts import authenticate
from assessment.extensions import limiter
from assessment.forms import EmptyForm, LoginForm
from assessment.web import db_session

blueprint = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str:
    """Only same-site paths; anything else (absolute URLs, //host, backslashes) goes home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("coach.cohorts")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("coach.cohorts")
    return target


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(
    ratelimits.SIGN_IN_PER_ACCOUNT,
    key_func=ratelimits.account_key,
    methods=["POST"],
    deduct_when=ratelimits.failed_sign_in,
)
@limiter.limit(
    ratelimits.SIGN_IN_PER_ADDRESS,
    key_func=ratelimits.address_key,
    methods=["POST"],
    deduct_when=ratelimits.failed_sign_in,
)
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    if form.validate_on_submit():
        coach = authenticate(db_session(), form.email.data or "", form.password.data or "")
        if coach is not None:
            session.clear()
            session["coach_id"] = coach.id
            return redirect(safe_next(request.args.get("next")))
        flash("That email and password do not match an account.", "error")
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


@blueprint.route("/logout", methods=["POST"])
def logout() -> Response:
    if EmptyForm().validate_on_submit():
        session.clear()
    return redirect(url_for("auth.login"))
