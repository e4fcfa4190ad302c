"""Outgoing mail: invitations, reminders, leader links and "your report is ready".

Delivery uses Python's own :mod:`smtplib` and :mod:`email.message` (STARTTLS or implicit TLS,
authentication, proper MIME and header encoding), kept with CPython itself: no extra
dependency, and nothing here needs a Flask app, so ``cl360 reminders send`` from cron and the
web app deliver the same way. With no ``MAIL_SERVER`` configured, every message goes to the
``mail_message`` table instead: the coach reads this outbox in the app, so the demo works offline.

Message texts are plain and short, in the rater's language through the same gettext catalogues
as the questionnaire (:func:`catalogue`), read with Babel directly.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache

from babel.support import NullTranslations, Translations
from sqlalchemy.orm import Session

from assessment.config import PROJECT_ROOT, MailSettings
from assessment.models import Cohort, Invitation, Leader, MailMessage, Relationship

TRANSLATIONS = PROJECT_ROOT / "assessment" / "translations"
Gettext = Callable[[str], str]


class MailError(RuntimeError):
    """The SMTP server could not take a message; the message says why, for the coach."""


@dataclass(frozen=True)
class Message:
    kind: str  # invitation, reminder, leader_link, report_ready
    to: str
    subject: str
    body: str


@lru_cache(maxsize=16)
def catalogue(language: str | None) -> NullTranslations:
    """The compiled gettext catalogue of a language (English texts are the message ids)."""
    if not language or language.split("-")[0] == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), [language.replace("-", "_")])


class Postman:
    """Delivers :class:`Message` objects by SMTP, or to the outbox when SMTP is not set up."""

    def __init__(self, settings: MailSettings, base_url: str) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")

    def rater_link(self, token: str) -> str:
        return f"{self.base_url}/r/{token}"

    def leader_link(self, token: str) -> str:
        return f"{self.base_url}/l/{token}"

    def deliver(self, session: Session, message: Message, cohort: Cohort | None) -> MailMessage:
        """Send (or outbox) one message and log it in the caller's transaction."""
        if self.settings.configured:
            self._send(message)
        record = MailMessage(
            cohort_id=cohort.id if cohort is not None else None,
            kind=message.kind,
            recipient=message.to,
            subject=message.subject,
            body=None if self.settings.configured else message.body,
            transport="smtp" if self.settings.configured else "outbox",
        )
        session.add(record)
        session.flush()
        return record

    def _send(self, message: Message) -> None:
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain=self.settings.sender.rpartition("@")[2] or None)
        email.set_content(message.body)
        s = self.settings
        try:
            if s.use_ssl:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout)
            else:
                connection = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
            with connection:
                if s.use_tls and not s.use_ssl:
                    connection.starttls()
                if s.username:
                    connection.login(s.username, s.password)
                connection.send_message(email)
        except (smtplib.SMTPException, OSError) as error:
            raise MailError(
                f"the mail server {s.server}:{s.port} did not take the message to "
                f"{message.to}: {error}"
            ) from None


# -- The messages -----------------------------------------------------------------------------


def _deadline_line(_: Gettext, deadline: date | None) -> str:
    if deadline is None:
        return ""
    return _("Please answer by %(date)s.") % {"date": deadline.isoformat()} + "\n\n"


def invitation_message(
    invitation: Invitation, link: str, *, reminder: bool = False, language: str | None = None
) -> Message:
    """The invitation (or a reminder of it) to one rater, in the rater's language."""
    _ = catalogue(language or invitation.language).gettext
    leader = invitation.leader
    cohort = leader.cohort
    to = invitation.rater_email or ""
    if invitation.relationship_ == Relationship.SELF:
        subject = _("Your self-assessment for %(cohort)s") % {"cohort": cohort.name}
        intro = _(
            "This is your own view of your leadership; your report will set it beside what the "
            "people around you say."
        )
        to = to or leader.email
    else:
        subject = _("%(leader)s asks for your feedback") % {"leader": leader.name}
        intro = _(
            "%(leader)s has asked for your honest view of their leadership, as part of "
            "%(cohort)s. Your answers are anonymous: they are only ever shown combined with "
            "other people's, and nobody can see what you said."
        ) % {"leader": leader.name, "cohort": cohort.name}
    if reminder:
        subject = _("Reminder: %(subject)s") % {"subject": subject}
        intro = (
            _("A gentle reminder: we have not received your answers yet.")
            + " "
            + _("This new link replaces the one we sent before; anything you saved is kept.")
            + "\n\n"
            + intro
        )
    greeting = (
        _("Hello %(name)s,") % {"name": invitation.rater_name}
        if invitation.rater_name
        else _("Hello,")
    )
    body = (
        f"{greeting}\n\n{intro}\n\n"
        + _(
            "It takes about ten minutes. You can save your answers and come back with the same link."
        )
        + "\n\n"
        + _deadline_line(_, cohort.deadline)
        + f"{link}\n\n"
        + _("This link is personal: please do not forward it.")
        + "\n"
    )
    return Message("reminder" if reminder else "invitation", to, subject, body)


def leader_link_message(leader: Leader, link: str) -> Message:
    subject = f"Your personal page for {leader.cohort.name}"
    body = (
        f"Hello {leader.name},\n\n"
        f"This is your personal page for {leader.cohort.name}. There you can nominate the people "
        "you would like feedback from, start your self-assessment, see how many have responded "
        "in each group (never who), and later read your report and write your development plan.\n\n"
        f"{link}\n\n"
        "This link is personal: please do not forward it. It replaces any earlier link to your page.\n"
    )
    return Message("leader_link", leader.email, subject, body)


def report_ready_message(leader: Leader, link: str) -> Message:
    subject = "Your 360 feedback report is ready"
    body = (
        f"Hello {leader.name},\n\n"
        f"Your report for {leader.cohort.name} has been released to you. Open your personal "
        "page to read it and to write your development plan on the three questions of the model: "
        "What is your leadership for? What do I notice in myself under pressure? "
        "Where do I need courage?\n\n"
        f"{link}\n\n"
        "This link is personal and replaces any earlier link to your page.\n"
    )
    return Message("report_ready", leader.email, subject, body)
