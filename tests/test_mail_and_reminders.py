"""Mail over a real SMTP server on loopback, the outbox, and reminders that never repeat."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from assessment.cli import cli
from assessment.cohort_jobs import REMIND
from assessment.cohorts import add_leader, create_cohort, set_schedule
from assessment.config import MailSettings
from assessment.core.sealing import BrowserKey
from assessment.invitations import create_invitation, find_link, new_link
from assessment.mail import Postman
from assessment.models import (
    AccessLink,
    Invitation,
    InvitationStatus,
    LinkPurpose,
    MailMessage,
    MailStatus,
    Relationship,
    ReminderSent,
)
from assessment.reminders import remind, scheduled_key, scheduled_reminders
from assessment.responses import Answers, save_draft
from tests.builders import csrf_token, run_job, wait_for_job
from tests.live import free_port


@pytest.fixture
def campaign(database, coach, instrument):
    """A cohort with one leader: a self link, two named peers (one has a draft), one unnamed."""
    with database.transaction() as s:
        cohort = create_cohort(s, s.merge(coach), "Mail cohort", instrument)
        leader = add_leader(s, cohort, "Rosa Diaz", "rosa@example.org")
        create_invitation(s, leader, Relationship.SELF, actor="t")
        first = create_invitation(
            s, leader, Relationship.PEER, actor="t", rater_name="Pat", rater_email="pat@example.org"
        )
        second = create_invitation(
            s, leader, Relationship.PEER, actor="t", rater_name="Lee", rater_email="lee@example.org"
        )
        create_invitation(s, leader, Relationship.PEER, actor="t")  # no address
        save_draft(s, first, Answers({instrument.items[0].id: 4}), BrowserKey.new())
        second.status = InvitationStatus.SUBMITTED
        return cohort


def count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_reminders_go_by_smtp_with_a_new_working_link_and_the_draft_kept(
    database, settings, campaign, smtp, session
):
    mailing = replace(settings, mail=smtp.settings, base_url="http://cl360.test")
    outcome = run_job(database, mailing, REMIND, cohort_id=campaign.id, day=20270301)
    # The self link and Pat's; Lee answered already, and the unnamed link has no address.
    assert (outcome.summary, outcome.total, outcome.errors) == ("2 reminders sent.", 2, [])
    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == ["pat@example.org", "rosa@example.org"]
    pat = next(m for m in smtp.messages if m["To"] == "pat@example.org")
    assert pat["Subject"] == "Reminder: Rosa Diaz asks for your feedback"
    assert pat["From"] == "coach@cl360.test"
    body = pat.get_content()
    link = next(line for line in body.splitlines() if line.startswith("http://cl360.test/r/"))
    with database.session() as s:
        invitation = find_link(s, link.rsplit("/", 1)[1]).invitation
        assert invitation.rater_email == "pat@example.org"
        assert invitation.draft is not None  # the draft stays with the invitation
    # Mail sent over SMTP keeps no body: the link would otherwise be stored in clear.
    assert session.scalars(select(MailMessage.body)).all() == [None, None]
    assert set(session.scalars(select(MailMessage.transport))) == {"smtp"}
    assert set(session.scalars(select(MailMessage.status))) == {MailStatus.SENT}
    again = run_job(database, mailing, REMIND, cohort_id=campaign.id, day=20270301)
    assert again.summary == "No reminder sent: 2 had been reminded today already."
    assert len(smtp.messages) == 2
    next_day = run_job(database, mailing, REMIND, cohort_id=campaign.id, day=20270302)
    assert next_day.summary == "2 reminders sent." and len(smtp.messages) == 4


def test_without_smtp_messages_go_to_the_outbox_the_coach_can_read(signed_in, campaign, session):
    page = signed_in.get(f"/cohorts/{campaign.slug}").get_data(as_text=True)
    assert "Remind the outstanding (3)" in page
    assert "pat@example.org" in page and "Lee" not in page  # only those who have not answered
    response = signed_in.post(
        f"/cohorts/{campaign.slug}/remind", data={"csrf_token": csrf_token(page)}
    )
    assert wait_for_job(signed_in, response)["summary"] == "2 reminders sent."
    done = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "Reminding everyone who has not answered" in done
    assert "No mail server is set up" in done and "Read the messages in the outbox" in done
    outbox = signed_in.get(f"/cohorts/{campaign.slug}/outbox").get_data(as_text=True)
    assert "Outbox" in outbox and "Reminder: Rosa Diaz asks for your feedback" in outbox
    assert "http://localhost/r/" in outbox
    assert count(session, MailMessage, MailMessage.transport == "outbox") == 2


def test_a_refused_reminder_withdraws_its_link_and_the_next_run_retries(
    database, campaign, smtp, session
):
    smtp.refuse = True
    postman = Postman(smtp.settings, "http://cl360.test")
    with database.transaction() as s:
        invitation = s.scalar(select(Invitation).where(Invitation.rater_name == "Pat"))
        earlier = new_link(s, invitation, LinkPurpose.INVITATION, actor="t")
        assert remind(s, invitation, "k", postman, actor="t") is True
    (refusal,) = postman.send_queued(database)
    assert "did not take the message to pat@example.org" in refusal
    assert count(session, ReminderSent) == 0
    assert count(session, MailMessage, MailMessage.status == MailStatus.FAILED) == 1
    links = session.scalars(select(AccessLink).order_by(AccessLink.id)).all()
    assert [(link.purpose, link.live) for link in links] == [
        (LinkPurpose.INVITATION, True),  # the link sent before still works
        (LinkPurpose.REMINDER, False),  # the one nobody received is withdrawn
    ]
    with database.session() as s:
        assert find_link(s, earlier).invitation.rater_name == "Pat"
    smtp.refuse = False
    with database.transaction() as s:
        invitation = s.scalar(select(Invitation).where(Invitation.rater_name == "Pat"))
        assert remind(s, invitation, "k", postman, actor="t") is True
    assert postman.send_queued(database) == []
    assert len(smtp.messages) == 1


def test_unreachable_server_is_a_clear_error(database, campaign):
    postman = Postman(MailSettings(server="127.0.0.1", port=free_port(), timeout=2), "http://x")
    with database.transaction() as s:
        invitation = s.scalar(select(Invitation).where(Invitation.rater_name == "Pat"))
        assert remind(s, invitation, "k", postman, actor="t") is True
    (failure,) = postman.send_queued(database)
    assert "127.0.0.1" in failure and "pat@example.org" in failure


def test_schedule_key_follows_the_deadline_and_days(campaign):
    deadline = date(2027, 3, 20)
    cohort = replace_schedule(campaign, deadline, [7, 3, 1])
    assert scheduled_key(cohort, deadline - timedelta(days=8)) is None
    assert scheduled_key(cohort, deadline - timedelta(days=7)) == "before:2027-03-20:7"
    assert scheduled_key(cohort, deadline - timedelta(days=5)) == "before:2027-03-20:7"
    assert scheduled_key(cohort, deadline - timedelta(days=2)) == "before:2027-03-20:3"
    assert scheduled_key(cohort, deadline) == "before:2027-03-20:1"
    assert scheduled_key(cohort, deadline + timedelta(days=1)) is None


def replace_schedule(cohort, deadline, days):
    cohort.deadline, cohort.reminder_days = deadline, days
    return cohort


def test_cron_command_sends_each_reminder_once(app, database, campaign, smtp, runner, session):
    app.extensions["cl360.settings"].mail = smtp.settings
    with database.transaction() as s:
        set_schedule(s, s.merge(campaign), date(2027, 3, 20), [3], "coach@example.org")
    before = runner.invoke(cli, ["reminders", "send", "--today", "2027-03-16"])
    assert before.exit_code == 0 and "0 sent" in before.output
    first = runner.invoke(cli, ["reminders", "send", "--today", "2027-03-17"])
    assert first.exit_code == 0, first.output
    assert "2 sent" in first.output and len(smtp.messages) == 2
    for _ in range(2):  # cron runs again the same day, and the next day
        again = runner.invoke(cli, ["reminders", "send", "--today", "2027-03-18"])
        assert again.exit_code == 0 and "0 sent" in again.output
    assert len(smtp.messages) == 2
    keys = set(session.scalars(select(ReminderSent.reminder_key)))
    assert keys == {"before:2027-03-20:3"}
    with database.session() as s:
        assert scheduled_reminders(s, date(2027, 3, 18)) == []


def test_the_unique_constraint_itself_refuses_a_second_reminder(database, campaign, session):
    """Even if two cron runs both decided to send, the database lets only one record stand."""
    postman = Postman(MailSettings(), "http://x")
    with database.transaction() as s:
        invitation = s.scalar(select(Invitation).where(Invitation.rater_name == "Pat"))
        assert remind(s, invitation, "same", postman, actor="t") is True
        assert remind(s, invitation, "same", postman, actor="t") is False
    assert count(session, ReminderSent) == 1
    assert count(session, MailMessage) == 1


def test_invitations_are_sent_once_with_the_cli(app, runner, database, campaign, smtp, session):
    app.extensions["cl360.settings"].mail = smtp.settings
    result = runner.invoke(cli, ["invitations", "send", "--cohort", campaign.slug])
    assert result.exit_code == 0 and "2 of 2 invitations sent." in result.output
    assert sorted(m["Subject"] for m in smtp.messages) == [
        "Rosa Diaz asks for your feedback",
        "Your self-assessment for Mail cohort",
    ]
    again = runner.invoke(cli, ["invitations", "send", "--cohort", campaign.slug])
    assert "0 of 0 invitations sent." in again.output and len(smtp.messages) == 2


def test_leaders_without_a_personal_link_get_one_from_the_dashboard(signed_in, campaign, session):
    dashboard = signed_in.get(f"/cohorts/{campaign.slug}").get_data(as_text=True)
    assert "Send leaders their personal links (1)" in dashboard
    response = signed_in.post(
        f"/cohorts/{campaign.slug}/leader-links/send", data={"csrf_token": csrf_token(dashboard)}
    )
    assert wait_for_job(signed_in, response)["summary"] == "1 of 1 leaders sent their link."
    page = signed_in.get(f"/cohorts/{campaign.slug}").get_data(as_text=True)
    assert "Send leaders their personal links" not in page  # everyone has one now
    body = session.scalar(
        select(MailMessage.body).where(MailMessage.recipient == "rosa@example.org")
    )
    link = next(line for line in body.splitlines() if "/l/" in line).strip()
    assert "Rosa Diaz" in signed_in.get(link.removeprefix("http://localhost")).get_data(
        as_text=True
    )


def test_leader_links_by_cli_go_once_and_a_refusal_keeps_nothing(
    app, runner, database, coach, campaign, smtp, session
):
    with database.transaction() as s:
        add_leader(s, s.merge(campaign), "Sam Okoro", "sam@example.org")
    app.extensions["cl360.settings"].mail = smtp.settings
    smtp.refuse = True
    refused = runner.invoke(cli, ["leaders", "links", "--cohort", campaign.slug])
    assert refused.exit_code == 1 and "0 of 2 leaders sent their link." in refused.output
    assert "error: Rosa Diaz: the mail server" in refused.output
    session.expire_all()
    live = count(
        session, AccessLink, AccessLink.leader_id.is_not(None), AccessLink.revoked_at.is_(None)
    )
    assert live == 0  # no working link without its mail
    smtp.refuse = False
    result = runner.invoke(cli, ["leaders", "links", "--cohort", campaign.slug])
    assert result.exit_code == 0 and "2 of 2 leaders sent their link." in result.output
    assert sorted(m["To"] for m in smtp.messages) == ["rosa@example.org", "sam@example.org"]
    again = runner.invoke(cli, ["leaders", "links", "--cohort", campaign.slug])
    assert "0 of 0 leaders sent their link." in again.output and len(smtp.messages) == 2


def test_mail_settings_come_from_the_environment():
    from assessment.config import Settings

    settings = Settings.from_environment(
        {"MAIL_SERVER": "smtp.example.org", "MAIL_PORT": "465", "MAIL_USE_SSL": "yes"}
    )
    assert settings.mail.configured and settings.mail.use_ssl and settings.mail.port == 465
    assert "secret" not in repr(replace(settings.mail, password="secret"))
    assert not Settings.from_environment({}).mail.configured
