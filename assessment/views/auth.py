"""Coach sign-in and sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from assessment import ratelimits
from assessment.accounts import AccountError, authenticate, change_password, end_sessions
from assessment.extensions import limiter
from assessment.forms import EmptyForm, LoginForm, PasswordForm
from assessment.web import (
    current_coach,
    db_session,
    login_required,
    signed_in_coach,
    start_session,
)

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
            start_session(coach)
            return redirect(safe_next(request.args.get("next")))
        flash("That email and password do not match an account.", "error")
    return render_template("login.html", form=form), 200 if request.method == "GET" else 401


@blueprint.route("/logout", methods=["POST"])
def logout() -> Response:
    if EmptyForm().validate_on_submit():
        if (coach := current_coach()) is not None:
            end_sessions(db_session(), coach)  # every copy of this session, on every device
        session.clear()
    return redirect(url_for("auth.login"))


@blueprint.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    coach = signed_in_coach()
    form = PasswordForm()
    if form.validate_on_submit():
        if authenticate(db_session(), coach.email, form.current.data or "") is None:
            form.current.errors.append("That is not your current password.")
        else:
            try:
                change_password(db_session(), coach, form.new.data or "")
            except AccountError as error:
                form.new.errors.append(f"Not changed: {error}.")
            else:
                start_session(coach)
                flash(
                    "Your password is changed. Any other place you were signed in has been "
                    "signed out.",
                    "success",
                )
                return redirect(url_for("coach.cohorts"))
    return render_template("coach/password.html", form=form), 400 if form.errors else 200
