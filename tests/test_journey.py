"""The whole journey through the real app and database: coach, leader, raters, report."""

from __future__ import annotations

import re

from sqlalchemy import func, inspect, select

from assessment.models import (
    Answer,
    Cohort,
    CohortStatus,
    DraftResponse,
    Invitation,
    InvitationStatus,
    Leader,
    Prediction,
    Response,
)
from tests.builders import (
    COACH_EMAIL,
    COACH_PASSWORD,
    add_leader,
    answer_all,
    client_signed_in_as,
    create_cohort,
    csrf_token,
    draft_ratings,
    make_links,
    post_form,
)


def test_full_journey_produces_a_report(cohort_setup, instrument, session):
    client, cohort_url, leader_url = cohort_setup
    assert "Nobody has been invited yet." in client.get(cohort_url).get_data(as_text=True)
    (self_link,) = make_links(client, leader_url, "self")
    peer_links = make_links(client, leader_url, "peer", 3)
    (manager_link,) = make_links(client, leader_url, "manager")
    assert len(set(peer_links)) == 3

    self_page = client.get(self_link).get_data(as_text=True)
    assert "Your self-assessment" in self_page
    assert instrument.items[0].self_text in self_page

    peer_page = client.get(peer_links[0]).get_data(as_text=True)
    assert "Feedback for Rosa Fernandes" in peer_page
    assert instrument.items[0].observer_text("Rosa Fernandes") in peer_page
    assert "anonymous" in peer_page

    assert post_form(client, self_link, answer_all(instrument, "5")).status_code == 302
    for index, link in enumerate([*peer_links, manager_link]):
        data = answer_all(instrument, str(2 + index % 3))
        data[instrument.open_questions[0].id] = f"Comment number {index}"
        response = post_form(client, link, data)
        assert response.status_code == 302 and response.headers["Location"].endswith("/r/thanks")

    completion = client.get(cohort_url).get_data(as_text=True)
    assert "Done" in completion and "3 <span" in completion
    assert "Everyone invited has responded." in completion

    assert session.scalar(select(func.count()).select_from(Response)) == 5
    too_early = client.get(leader_url + "/report.pdf")
    assert too_early.status_code == 409 and "still open" in too_early.get_data(as_text=True)
    page = client.get(cohort_url).get_data(as_text=True)
    assert (
        client.post(cohort_url + "/close", data={"csrf_token": csrf_token(page)}).status_code == 302
    )
    pdf = client.get(leader_url + "/report.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")


def test_draft_is_saved_and_resumed(cohort_setup, instrument, session):
    client, _, leader_url = cohort_setup
    (link,) = make_links(client, leader_url, "peer")
    first, second = instrument.items[0].id, instrument.items[1].id
    question = instrument.open_questions[0].id
    response = post_form(
        client, link, {first: "2", second: "na", question: "Kind & fair <b>"}, "save"
    )
    assert response.status_code == 302 and "saved=1" in response.headers["Location"]

    page = client.get(link).get_data(as_text=True)
    assert re.search(rf'name="{first}" value="2" checked', page)
    assert re.search(rf'name="{second}" value="na" checked', page)
    assert "Kind &amp; fair &lt;b&gt;" in page
    invitation = session.scalar(select(Invitation))
    assert invitation.status == InvitationStatus.DRAFT
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_incomplete_submit_keeps_answers_and_names_the_missing(cohort_setup, instrument, session):
    client, _, leader_url = cohort_setup
    (link,) = make_links(client, leader_url, "peer")
    data = answer_all(instrument)
    missing = instrument.items[-1].id
    del data[missing]
    response = post_form(client, link, data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "1 of" in page and f'id="error-{missing}"' in page
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    assert len(draft_ratings(client, session)) == len(instrument.items) - 1


def test_off_scale_or_forged_values_are_refused_with_nothing_stored(
    cohort_setup, instrument, session
):
    client, _, leader_url = cohort_setup
    (link,) = make_links(client, leader_url, "peer")
    for bad in ("6", "0", "-1", "4.5", "na ", "<script>", "1e3"):
        data = answer_all(instrument)
        data[instrument.items[0].id] = bad
        response = post_form(client, link, data)
        if bad == "na ":  # surrounding space is forgiven: "na" is a valid choice
            assert response.status_code == 302
            break
        assert response.status_code == 422, bad
        assert "Choose one of the 5 points" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Answer)) == len(instrument.items)


def test_the_leader_predicts_how_others_will_rate_them(cohort_setup, instrument, session):
    client, _, leader_url = cohort_setup
    (self_link,) = make_links(client, leader_url, "self")
    (peer_link,) = make_links(client, leader_url, "peer")
    purpose, awareness, courage = (d.id for d in instrument.dimensions)
    self_page = client.get(self_link).get_data(as_text=True)
    assert "How will others see you?" in self_page
    assert f'name="predict:{purpose}" value="" checked' in self_page  # no prediction by default
    assert "How will others see you?" not in client.get(peer_link).get_data(as_text=True)

    # Off the scale: refused next to the field, nothing stored, the ratings kept on the page.
    response = post_form(client, self_link, {**answer_all(instrument), f"predict:{purpose}": "9"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="error-predict:{purpose}"' in page and "Choose one of the 5 points" in page
    assert f'name="{instrument.items[0].id}" value="4" checked' in page
    assert session.scalar(select(func.count()).select_from(Response)) == 0

    # A draft keeps the predictions; "No prediction" is a choice, not an error.
    data = {f"predict:{purpose}": "4", f"predict:{awareness}": "3", f"predict:{courage}": ""}
    assert post_form(client, self_link, data, "save").status_code == 302
    page = client.get(self_link).get_data(as_text=True)
    assert f'name="predict:{purpose}" value="4" checked' in page
    assert f'name="predict:{courage}" value="" checked' in page
    assert post_form(client, self_link, {**answer_all(instrument), **data}).status_code == 302

    # An observer cannot slip a prediction in: the field is not read for them.
    peer = {**answer_all(instrument), f"predict:{purpose}": "5"}
    assert post_form(client, peer_link, peer).status_code == 302
    session.expire_all()
    stored = session.execute(
        select(Response.relationship_, Prediction.dimension_id, Prediction.value).join(Prediction)
    ).all()
    assert sorted(stored) == sorted([("self", purpose, 4), ("self", awareness, 3)])


def test_submitting_twice_is_refused_and_first_answers_kept(cohort_setup, instrument, session):
    client, _, leader_url = cohort_setup
    (link,) = make_links(client, leader_url, "peer")
    page = client.get(link).get_data(as_text=True)
    token = csrf_token(page)
    first = client.post(
        link, data={**answer_all(instrument, "4"), "action": "submit", "csrf_token": token}
    )
    assert first.status_code == 302
    second = client.post(
        link, data={**answer_all(instrument, "1"), "action": "submit", "csrf_token": token}
    )
    assert second.status_code == 409
    assert "already in" in second.get_data(as_text=True)
    assert client.get(link).status_code == 409
    values = set(session.scalars(select(Answer.value)))
    assert values == {4}


def test_unknown_forged_and_malformed_tokens_get_a_clear_404(client):
    for link in ("/r/" + "A" * 43, "/r/short", "/r/" + "%00" * 10, "/r/../../etc/passwd"):
        response = client.get(link)
        assert response.status_code == 404, link
        if link.startswith("/r/AAA"):
            assert "not valid" in response.get_data(as_text=True)


def test_closed_cohort_refuses_answers_but_keeps_the_draft(cohort_setup, instrument, session):
    client, cohort_url, leader_url = cohort_setup
    (link,) = make_links(client, leader_url, "peer")
    page = client.get(link).get_data(as_text=True)
    token = csrf_token(page)
    client.post(link, data={instrument.items[0].id: "3", "action": "save", "csrf_token": token})
    cohort_page = client.get(cohort_url).get_data(as_text=True)
    assert (
        client.post(cohort_url + "/close", data={"csrf_token": csrf_token(cohort_page)}).status_code
        == 302
    )
    assert session.scalar(select(Cohort.status)) == CohortStatus.CLOSED

    response = client.post(
        link, data={**answer_all(instrument), "action": "submit", "csrf_token": token}
    )
    assert response.status_code == 403
    assert "closed" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    assert draft_ratings(client, session) == {instrument.items[0].id: 3}


def test_expired_csrf_token_shows_the_answers_again(cohort_setup, instrument, session):
    client, _, leader_url = cohort_setup
    (link,) = make_links(client, leader_url, "peer")
    first = instrument.items[0].id
    response = client.post(link, data={first: "2", "action": "submit", "csrf_token": "stale"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "send them again" in page
    assert re.search(rf'name="{first}" value="2" checked', page)
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_submitted_response_cannot_be_linked_to_its_invitation(cohort_setup, instrument, session):
    client, _, leader_url = cohort_setup
    links = make_links(client, leader_url, "peer", 2)
    post_form(client, links[0], answer_all(instrument, "2"))
    columns = {c["name"] for c in inspect(session.get_bind()).get_columns("response")}
    assert columns == {"id", "leader_id", "relationship"}  # no invitation, no timestamp
    answer_columns = {c["name"] for c in inspect(session.get_bind()).get_columns("answer")}
    assert answer_columns == {"response_id", "item_id", "value"}
    assert session.scalar(select(func.count()).select_from(DraftResponse)) == 0
    response_id = session.scalar(select(Response.id))
    assert re.fullmatch(r"[0-9a-f]{32}", response_id)


def test_coach_cannot_reach_another_coachs_objects(cohort_setup, app, database):
    client, cohort_url, leader_url = cohort_setup
    from assessment.accounts import create_coach

    with database.transaction() as s:
        create_coach(s, "other@example.org", "another long password")
    other = app.test_client()
    page = other.get("/login").get_data(as_text=True)
    other.post(
        "/login",
        data={
            "email": "other@example.org",
            "password": "another long password",
            "csrf_token": csrf_token(page),
        },
    )
    assert other.get(cohort_url).status_code == 404
    assert other.get(leader_url).status_code == 404
    assert other.get(leader_url + "/report.pdf").status_code == 404
    assert client.get(cohort_url).status_code == 200


def test_pages_require_sign_in_and_posts_require_csrf(client, signed_in):
    anonymous = client.application.test_client()
    response = anonymous.get("/cohorts")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert (
        signed_in.post(
            "/cohorts", data={"name": "x", "instrument": "compassionate-leadership@1"}
        ).status_code
        == 400
    )


def test_login_next_parameter_cannot_redirect_off_site(client, coach):
    for target in ("https://evil.example", "//evil.example", "/\\evil.example"):
        page = client.get("/login").get_data(as_text=True)
        response = client.post(
            f"/login?next={target}",
            data={"email": COACH_EMAIL, "password": COACH_PASSWORD, "csrf_token": csrf_token(page)},
        )
        assert response.headers["Location"] == "/cohorts", target


def test_wrong_password_is_refused(client, coach):
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={
            "email": "coach@example.org",
            "password": "wrong password!",
            "csrf_token": csrf_token(page),
        },
    )
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)


def test_security_headers_keep_tokens_out_of_referrers(client):
    response = client.get("/login")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_pulse_instrument_works_with_no_code_change(signed_in, pulse, session):
    cohort_url = create_cohort(signed_in, "Pulse check", f"{pulse.id}@{pulse.version}")
    leader_url = add_leader(signed_in, cohort_url, "Sam Lee", "sam@example.org")
    (link,) = make_links(signed_in, leader_url, "direct_report")
    page = signed_in.get(link).get_data(as_text=True)
    assert page.count('type="radio"') == len(pulse.items) * (pulse.scale.points + 1)
    assert pulse.scale.anchors[-1] in page
    assert post_form(signed_in, link, answer_all(pulse, "7")).status_code == 302
    assert session.scalar(select(func.max(Answer.value))) == 7
    leader = session.scalar(select(Leader))
    assert leader.cohort.instrument_id == pulse.id


def test_no_page_export_or_report_is_kept_in_a_cache(signed_in):
    cohort_url = create_cohort(signed_in)
    for path in ("/login", "/cohorts", cohort_url, f"{cohort_url}/scores.csv", "/r/nonsense"):
        assert signed_in.get(path).headers["Cache-Control"] == "no-store", path
    static = signed_in.get("/static/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_production_asks_browsers_for_https_only(settings):
    from dataclasses import replace

    from assessment.app import create_app

    app = create_app(replace(settings, production=True))
    assert "max-age=" in app.test_client().get("/login").headers["Strict-Transport-Security"]
    app.extensions["cl360.db"].dispose()


def test_a_cohort_address_says_nothing_about_other_coaches(app, signed_in, database, runner):
    from assessment.accounts import create_coach
    from assessment.cli import cli

    with database.transaction() as s:
        create_coach(s, "second@example.org", "a second coach password")
    second = client_signed_in_as(app, "second@example.org", "a second coach password")
    mine, theirs = create_cohort(signed_in), create_cohort(second)
    assert mine == theirs == "/cohorts/ward-leaders-2027"  # the same name, each their own
    add_leader(signed_in, mine, "Rosa Fernandes", "rosa@example.org")
    assert "Rosa Fernandes" not in second.get(theirs).get_data(as_text=True)
    ambiguous = runner.invoke(cli, ["invitations", "send", "--cohort", "ward-leaders-2027"])
    assert ambiguous.exit_code == 1 and "say whose with --coach" in ambiguous.output
    chosen = runner.invoke(
        cli,
        ["invitations", "send", "--cohort", "ward-leaders-2027", "--coach", "coach@example.org"],
    )
    assert chosen.exit_code == 0, chosen.output
