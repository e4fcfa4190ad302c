"""Signing out, or changing the password, ends every earlier session of that coach: a copied
cookie stops working (docs/operations.md, "Sessions")."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from assessment.accounts import authenticate
from assessment.cli import cli
from tests.builders import COACH_EMAIL, COACH_PASSWORD, client_signed_in_as, csrf_token


def copy_of(app, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    cookie = client.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def signed_in_again(app) -> FlaskClient:
    """The same coach signed in on another device."""
    client = client_signed_in_as(app, COACH_EMAIL, COACH_PASSWORD)
    assert client.get("/cohorts").status_code == 200
    return client


def test_signing_out_ends_every_copy_of_the_session(app, signed_in):
    other_device = signed_in_again(app)
    thief = copy_of(app, signed_in)
    assert thief.get("/cohorts").status_code == 200
    page = signed_in.get("/cohorts").get_data(as_text=True)
    assert signed_in.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    for client in (signed_in, thief, other_device):
        response = client.get("/cohorts")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(app, signed_in, database):
    other_device = signed_in_again(app)
    thief = copy_of(app, signed_in)
    page = signed_in.get("/account/password").get_data(as_text=True)
    wrong = signed_in.post(
        "/account/password",
        data={
            "current": "not my password",
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_token(page),
        },
    )
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(True)
    changed = signed_in.post(
        "/account/password",
        data={
            "current": COACH_PASSWORD,
            "new": "a brand new passphrase",
            "confirm": "a brand new passphrase",
            "csrf_token": csrf_token(page),
        },
    )
    assert changed.status_code == 302
    assert signed_in.get("/cohorts").status_code == 200
    for client in (thief, other_device):
        assert client.get("/cohorts").status_code == 302
    with database.session() as s:
        assert authenticate(s, COACH_EMAIL, "a brand new passphrase") is not None
        assert authenticate(s, COACH_EMAIL, COACH_PASSWORD) is None


def test_a_new_password_must_be_long_and_typed_twice_alike(signed_in):
    page = signed_in.get("/account/password").get_data(as_text=True)
    for new, confirm, message in (
        ("short", "short", "at least 10 characters"),
        ("a brand new passphrase", "a different passphrase", "do not match"),
    ):
        response = signed_in.post(
            "/account/password",
            data={
                "current": COACH_PASSWORD,
                "new": new,
                "confirm": confirm,
                "csrf_token": csrf_token(page),
            },
        )
        assert response.status_code == 400 and message in response.get_data(True)


def test_the_command_line_can_reset_a_password_and_ends_every_session(app, runner, signed_in):
    result = runner.invoke(
        cli, ["set-password", COACH_EMAIL], input="a reset passphrase\na reset passphrase\n"
    )
    assert result.exit_code == 0, result.output
    assert signed_in.get("/cohorts").status_code == 302


def test_forms_work_over_https_although_browsers_send_no_referer(client, coach):
    """Every page tells browsers to send no Referer (a rater's link must not leak), so the form
    token and the SameSite cookie guard form posts over HTTPS, not a Referer check that would
    refuse every one of them behind a TLS proxy."""
    https = {"base_url": "https://cl360.example.org"}
    page = client.get("/login", **https).get_data(as_text=True)
    assert client.get("/login", **https).headers["Referrer-Policy"] == "no-referrer"
    signed_in = client.post(
        "/login",
        data={"email": COACH_EMAIL, "password": COACH_PASSWORD, "csrf_token": csrf_token(page)},
        **https,
    )
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)[:300]
    forged = client.post("/login", data={"email": COACH_EMAIL, "password": COACH_PASSWORD}, **https)
    assert forged.status_code == 400


def test_password_managers_can_fill_the_sign_in_and_save_a_new_password(client, signed_in):
    login = client.get("/login").get_data(as_text=True)
    assert re.search(r'<input[^>]*autocomplete="username"[^>]*name="email"', login)
    assert re.search(r'<input[^>]*autocomplete="current-password"[^>]*name="password"', login)
    account = signed_in.get("/account/password").get_data(as_text=True)
    assert account.count('autocomplete="new-password"') == 2
    assert account.count('autocomplete="current-password"') == 1
