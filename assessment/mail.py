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
from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment.config import PROJECT_ROOT, MailSettings
from assessment.core.planning import PLANNING_QUESTIONS
from assessment.database import Database
from assessment.models import (
    Cohort,
    Invitation,
    Leader,
    MailMessage,
    MailStatus,
    Relationship,
    utcnow,
)

TRANSLATIONS = PROJECT_ROOT / "assessment" / "translations"
Gettext = Callable[[str], str]


class MailError(RuntimeError):
    """A message cannot be sent as asked (e.g. no address); the message says why, for the coach."""


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


FailureHandler = Callable[[Session], None]
"""What to undo when a queued message could not be delivered, e.g. withdraw the link it carried."""


@dataclass(frozen=True)
class Queued:
    record_id: int
    to: str
    email: EmailMessage
    on_failure: FailureHandler | None


class Postman:
    """Mail for one unit of work: messages are queued in its transaction and sent after it.

    A message is recorded (:class:`MailMessage`) in the same transaction as the change it
    reports, and only goes out over SMTP once that transaction has committed
    (:meth:`send_queued`): a mail can never carry a link that a rolled-back transaction took
    away. A message the server refuses is marked failed and its ``on_failure`` runs, so the
    link it carried is withdrawn and the next "send" tries again. With no SMTP server the
    outbox is the delivery: the coach reads the message in the app and passes it on.
    """

    def __init__(self, settings: MailSettings, base_url: str) -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")
        self.queued: list[Queued] = []

    def rater_link(self, token: str) -> str:
        return f"{self.base_url}/r/{token}"

    def leader_link(self, token: str) -> str:
        return f"{self.base_url}/l/{token}"

    def deliver(
        self,
        session: Session,
        message: Message,
        cohort: Cohort | None,
        *,
        on_failure: FailureHandler | None = None,
        key: str | None = None,
    ) -> MailMessage:
        """Record a message in the caller's transaction; SMTP mail waits for :meth:`send_queued`.

        A message with an idempotency ``key`` that was recorded before is not recorded or sent
        again: the earlier record is returned, so a retried job mails each person once.
        Raises :class:`MailError` for a message that cannot be written (e.g. a line break in a
        header), so the caller's savepoint drops it and the other messages still go.
        """
        if key is not None:
            earlier = session.scalar(select(MailMessage).where(MailMessage.idempotency_key == key))
            if earlier is not None:
                return earlier
        smtp = self.settings.configured
        try:
            email = self._email(message)
        except ValueError as error:
            raise MailError(f"the message to {message.to} cannot be written: {error}") from None
        record = MailMessage(
            cohort_id=cohort.id if cohort is not None else None,
            kind=message.kind,
            recipient=message.to,
            subject=message.subject,
            # Mail that goes out over SMTP keeps only its envelope: its link stays a secret.
            body=None if smtp else message.body,
            transport="smtp" if smtp else "outbox",
            status=MailStatus.QUEUED if smtp else MailStatus.OUTBOX,
            idempotency_key=key,
        )
        session.add(record)
        session.flush()
        if smtp:
            self.queued.append(Queued(record.id, message.to, email, on_failure))
        return record

    def send_queued(self, database: Database) -> list[str]:
        """Send what the committed transaction queued, over one connection; the failures.

        Each message's outcome is recorded in a short transaction of its own, with the
        message's ``on_failure`` when the server refused it.
        """
        queued, self.queued = self.queued, []
        if not queued:
            return []
        failures: list[str] = []
        outcomes: list[tuple[Queued, str | None]] = []
        try:
            with self._connect() as connection:
                for item in queued:
                    try:
                        connection.send_message(item.email)
                    except smtplib.SMTPException as error:
                        outcomes.append((item, self._refused(item.to, error)))
                    else:
                        outcomes.append((item, None))
        except (smtplib.SMTPException, OSError) as error:
            done = {id(item) for item, _ in outcomes}
            outcomes += [
                (item, self._refused(item.to, error)) for item in queued if id(item) not in done
            ]
        with database.transaction() as session:
            for item, failure in outcomes:
                record = session.get(MailMessage, item.record_id)
                if record is None:
                    continue
                if failure is None:
                    record.status, record.sent_at = MailStatus.SENT, utcnow()
                    continue
                record.status, record.error = MailStatus.FAILED, failure[:500]
                record.idempotency_key = None  # it did not go: asking again must send it
                failures.append(failure)
                if item.on_failure is not None:
                    item.on_failure(session)
        return failures

    def _refused(self, to: str, error: Exception) -> str:
        s = self.settings
        return f"the mail server {s.server}:{s.port} did not take the message to {to}: {error}"

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.use_ssl:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(s.server, s.port, timeout=s.timeout)
        else:
            connection = smtplib.SMTP(s.server, s.port, timeout=s.timeout)
        try:
            if s.use_tls and not s.use_ssl:
                connection.starttls()
            if s.username:
                connection.login(s.username, s.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _email(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain=self.settings.sender.rpartition("@")[2] or None)
        email.set_content(message.body)
        return email


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
            + _("The link we sent before works too, and anything you saved is kept.")
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
            "It takes about ten minutes. You can save your answers and come back later in the "
            "same browser."
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
        "This link is personal: please do not forward it. Links we sent you before still work.\n"
    )
    return Message("leader_link", leader.email, subject, body)


def report_ready_message(leader: Leader, link: str) -> Message:
    subject = "Your 360 feedback report is ready"
    body = (
        f"Hello {leader.name},\n\n"
        f"Your report for {leader.cohort.name} has been released to you. Open your personal "
        "page to read it and to write your development plan on the three questions of the model: "
        f"{' '.join(q.question for q in PLANNING_QUESTIONS)}\n\n"
        f"{link}\n\n"
        "This link is personal: please do not forward it. Links we sent you before still work.\n"
    )
    return Message("report_ready", leader.email, subject, body)
