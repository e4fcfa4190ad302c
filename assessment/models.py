"""The stored state of the product.

Anonymity shapes this schema (docs/anonymity.md): a submitted :class:`Response` has no foreign key to
the :class:`Invitation` that produced it, a random UUID for a key and no timestamp, and its
answers and comments are keyed by (response, item), so neither ids nor times can be lined up
with the invitations' "submitted" status. Only a :class:`DraftResponse` points at its invitation,
and it is deleted in the same transaction that writes the submitted response.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from assessment.core.instruments import Relationship
from assessment.database import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_session_key() -> str:
    return secrets.token_urlsafe(24)


class CohortStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class InvitationStatus(enum.StrEnum):
    PENDING = "pending"
    DRAFT = "draft"
    SUBMITTED = "submitted"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable across SQLite and PostgreSQL.
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e])


class Coach(Base):
    __tablename__ = "coach"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Every signed-in session carries this value; signing out or a new password replaces it,
    # which ends every session made before (assessment/accounts.py).
    session_key: Mapped[str] = mapped_column(String(64), default=new_session_key)

    cohorts: Mapped[list[Cohort]] = relationship(back_populates="coach")


class Cohort(Base):
    """A feedback campaign; holds a frozen copy of its instrument so YAML edits never change it.

    Its slug (the address part) is unique per coach only: a slug never tells one coach that
    another has a cohort of that name.
    """

    __tablename__ = "cohort"
    __table_args__ = (UniqueConstraint("coach_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id", ondelete="RESTRICT"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(80))
    instrument_version: Mapped[int] = mapped_column(Integer)
    instrument: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[CohortStatus] = mapped_column(
        _enum(CohortStatus, "cohort_status"), default=CohortStatus.OPEN
    )
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Campaign settings (docs/campaigns.md): reminders go out `reminder_days` before `deadline`.
    deadline: Mapped[date | None] = mapped_column(Date)
    reminder_days: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Other languages of the frozen instrument, {language tag: instrument data}, item ids 1:1.
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Scoring settings (docs/scoring.md): a blind spot / hidden strength is an item where self
    # and Others differ by at least this many scale points.
    gap_threshold: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")

    coach: Mapped[Coach] = relationship(back_populates="cohorts")
    leaders: Mapped[list[Leader]] = relationship(
        back_populates="cohort", order_by="Leader.name", cascade="all, delete-orphan"
    )

    @property
    def is_open(self) -> bool:
        return self.status == CohortStatus.OPEN


class Leader(Base):
    __tablename__ = "leader"
    __table_args__ = (UniqueConstraint("cohort_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    department: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="leaders")
    invitations: Mapped[list[Invitation]] = relationship(
        back_populates="leader", order_by="Invitation.id", cascade="all, delete-orphan"
    )
    # The leader's personal page (nominations, progress, released report), by every link sent.
    links: Mapped[list[AccessLink]] = relationship(
        back_populates="leader", order_by="AccessLink.id", cascade="all, delete-orphan"
    )


class Invitation(Base):
    """One rater's (or the leader's own) questionnaire to fill in, reached by its links."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leader.id", ondelete="CASCADE"), index=True)
    relationship_: Mapped[Relationship] = mapped_column(
        "relationship", _enum(Relationship, "relationship_kind")
    )
    status: Mapped[InvitationStatus] = mapped_column(
        _enum(InvitationStatus, "invitation_status"), default=InvitationStatus.PENDING
    )
    rater_name: Mapped[str | None] = mapped_column(String(200))
    rater_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Language of the questionnaire for this rater (None: the cohort's own language).
    language: Mapped[str | None] = mapped_column(String(16))
    # When the invitation mail last went out (None: never mailed, e.g. a link copied by hand).
    invited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A hash of the random value carried by the form that submitted it (never when, never
    # what): the same form sent again, e.g. by a double click, gets the thanks page.
    submission_key: Mapped[str | None] = mapped_column(String(64))

    leader: Mapped[Leader] = relationship(back_populates="invitations")
    draft: Mapped[DraftResponse | None] = relationship(
        back_populates="invitation", cascade="all, delete-orphan", uselist=False
    )
    links: Mapped[list[AccessLink]] = relationship(
        back_populates="invitation", order_by="AccessLink.id", cascade="all, delete-orphan"
    )


class LinkPurpose(enum.StrEnum):
    """How a link reached its person, so the coach can tell links apart and revoke one."""

    SHOWN = "shown"  # shown once to the coach, who hands it out
    INVITATION = "invitation"  # in an invitation mail
    REMINDER = "reminder"  # in a reminder mail
    SELF_ASSESSMENT = "self_assessment"  # opened by the leader from their personal page
    PERSONAL_PAGE = "personal_page"  # in the mail with the leader's personal page
    REPORT_READY = "report_ready"  # in the mail saying the leader's report is ready


class AccessLink(Base):
    """One link that was handed out: to an invitation's questionnaire or a leader's page.

    Only a SHA-256 hash of the token is kept (docs/operations.md). An invitation or a leader
    holds every link ever sent: each works until the invitation is used, its cohort closes,
    or the coach revokes that link; a reminder adds a link and stops none.
    """

    __tablename__ = "access_link"
    __table_args__ = (
        CheckConstraint("(invitation_id IS NULL) <> (leader_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE"), index=True
    )
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("leader.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[LinkPurpose] = mapped_column(_enum(LinkPurpose, "link_purpose"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(320))

    invitation: Mapped[Invitation | None] = relationship(back_populates="links")
    leader: Mapped[Leader | None] = relationship(back_populates="links")

    @property
    def live(self) -> bool:
        return self.revoked_at is None


class DraftResponse(Base):
    """Answers being written, sealed with a key only the rater's browser holds.

    Linked to the invitation only until submission. ``sealed`` is AES-GCM ciphertext
    (assessment/core/sealing.py) under the key the browser keeps in the cookie ``key_id`` names:
    nobody else can read it, the coach included, even with a live link.
    """

    __tablename__ = "draft_response"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE"), unique=True
    )
    key_id: Mapped[str] = mapped_column(String(32))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    invitation: Mapped[Invitation] = relationship(back_populates="draft")


def new_response_id() -> str:
    return uuid.uuid4().hex


class Response(Base):
    """A submitted questionnaire. Deliberately unlinkable to its invitation (see module docstring)."""

    __tablename__ = "response"
    # Stored in key order, with no row id that would count submissions (docs/anonymity.md).
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_response_id)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leader.id", ondelete="CASCADE"), index=True)
    relationship_: Mapped[Relationship] = mapped_column(
        "relationship", _enum(Relationship, "relationship_kind")
    )

    answers: Mapped[list[Answer]] = relationship(cascade="all, delete-orphan")
    comments: Mapped[list[Comment]] = relationship(cascade="all, delete-orphan")
    predictions: Mapped[list[Prediction]] = relationship(cascade="all, delete-orphan")


class Answer(Base):
    """One item's answer; ``value`` is the raw scale point, or NULL for "not able to rate"."""

    __tablename__ = "answer"
    # Stored in key order, with no row id that would count submissions (docs/anonymity.md).
    __table_args__ = ({"sqlite_with_rowid": False},)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int | None] = mapped_column(Integer)


class Prediction(Base):
    """The leader's prediction, in their self-assessment, of their Others score on a dimension.

    Only a self response has predictions (docs/scoring.md, "Cohort figures": predicted views): a scale point, or no
    row when the leader chose not to predict.
    """

    __tablename__ = "prediction"
    # Stored in key order, with no row id that would count submissions (docs/anonymity.md).
    __table_args__ = ({"sqlite_with_rowid": False},)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    dimension_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Comment(Base):
    __tablename__ = "comment"
    # Stored in key order, with no row id that would count submissions (docs/anonymity.md).
    __table_args__ = ({"sqlite_with_rowid": False},)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("response.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # The moderated text the report shows: ``text`` with identifying spans replaced by
    # "[redacted]" (assessment/moderation.py); the original is kept beside it.
    redacted_text: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """Administrative actions: who did what to which object, and when."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- Running a campaign (issue 5): nominations, mail, reminders, release, development plans ----


class NominationStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Nomination(Base):
    """A rater the leader proposes; the coach approves (which invites them), edits or rejects."""

    __tablename__ = "nomination"
    __table_args__ = (UniqueConstraint("leader_id", "rater_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leader.id", ondelete="CASCADE"), index=True)
    rater_name: Mapped[str] = mapped_column(String(200))
    rater_email: Mapped[str] = mapped_column(String(320))
    relationship_: Mapped[Relationship] = mapped_column(
        "relationship", _enum(Relationship, "relationship_kind")
    )
    status: Mapped[NominationStatus] = mapped_column(
        _enum(NominationStatus, "nomination_status"), default=NominationStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitation.id", ondelete="SET NULL")
    )

    leader: Mapped[Leader] = relationship()


class MailStatus(enum.StrEnum):
    QUEUED = "queued"  # recorded; goes out over SMTP once its transaction has committed
    SENT = "sent"
    FAILED = "failed"  # the server refused it; the link it carried was withdrawn
    OUTBOX = "outbox"  # no SMTP server: the coach reads it in the app and passes it on


class MailMessage(Base):
    """Every message the product sends. ``body`` is kept only for the outbox (no SMTP set up).

    A body holds a personal link, so mail that really went out over SMTP keeps only its
    envelope: tokens are stored hashed everywhere else, and the log must not undo that.
    """

    __tablename__ = "mail_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int | None] = mapped_column(
        ForeignKey("cohort.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(10))  # "smtp" or "outbox"
    status: Mapped[MailStatus] = mapped_column(
        _enum(MailStatus, "mail_status"), default=MailStatus.SENT
    )
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What the message is about, e.g. "report_ready:leader:7:set:<digest>": a retried job that
    # asks for the same message again finds this row instead of sending a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class ReminderSent(Base):
    """One reminder to one invitation; the unique key makes a repeated cron run send nothing twice."""

    __tablename__ = "reminder_sent"
    __table_args__ = (UniqueConstraint("invitation_id", "reminder_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("invitation.id", ondelete="CASCADE"), index=True
    )
    reminder_key: Mapped[str] = mapped_column(String(80))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReportRelease(Base):
    """A report given to its leader: who released it, when, and exactly which responses it used.

    The response ids and counts feed the differencing rule (docs/anonymity.md, "The disclosure ledger") for any later release;
    the PDF is kept so the leader always reads what was released, not a regenerated report.
    """

    __tablename__ = "report_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leader.id", ondelete="CASCADE"), index=True)
    released_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    released_by: Mapped[str] = mapped_column(String(320))
    # response id -> rater group of every response the report used, and counts per group
    response_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)


# -- The disclosure ledger (docs/anonymity.md): what left the product, from which responses ---


class ResponseSet(Base):
    """The exact responses of one leader that a disclosure was computed from.

    A later disclosure for the leader uses one of these again, or a set that differs from every
    one of them by enough responses in each changed group (assessment/disclosures.py).
    """

    __tablename__ = "response_set"
    __table_args__ = (UniqueConstraint("leader_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leader.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the sorted response ids
    response_ids: Mapped[list[str]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)  # responses per rater group
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Artefact(Base):
    """What one disclosure showed, kept so the same responses always show the same thing.

    ``key`` names the kind, the format and every leader's response set, so asking again for
    an unchanged disclosure finds it and serves these bytes (``content`` is empty for what is
    only shown on a page, such as comments for moderation).
    """

    __tablename__ = "artefact"

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohort.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    compressed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    response_sets: Mapped[list[ResponseSet]] = relationship(secondary="artefact_set")


class ArtefactSet(Base):
    """Which leaders' response sets an artefact was computed from."""

    __tablename__ = "artefact_set"

    artefact_id: Mapped[int] = mapped_column(
        ForeignKey("artefact.id", ondelete="CASCADE"), primary_key=True
    )
    response_set_id: Mapped[int] = mapped_column(
        ForeignKey("response_set.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Disclosure(Base):
    """One time an artefact was disclosed: downloaded, shown, released."""

    __tablename__ = "disclosure"

    id: Mapped[int] = mapped_column(primary_key=True)
    artefact_id: Mapped[int] = mapped_column(
        ForeignKey("artefact.id", ondelete="CASCADE"), index=True
    )
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DevelopmentPlan(Base):
    """The leader's own goals, on the three questions of the model; only they write it."""

    __tablename__ = "development_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("leader.id", ondelete="CASCADE"), unique=True)
    purpose: Mapped[str] = mapped_column(Text, default="")
    pressure: Mapped[str] = mapped_column(Text, default="")
    courage: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class RateLimitCounter(Base):
    """One rate-limit counter (assessment/ratelimits.py): hits in the window ending at
    ``expires_at`` (seconds since the epoch). Keys are hashes, never tokens or addresses of
    people who signed in."""

    __tablename__ = "rate_limit"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[float] = mapped_column(Float)
    hits: Mapped[int] = mapped_column(Integer)


# -- Psychometrics (issue 3): fitted leader profiles, stored as plain data ------------------


class ProfileModelRecord(Base):
    """A fitted profile model (docs/scoring.md, "Profiles") as JSON, never a pickle: see assessment/core/profiles.py.

    One row per fit; the latest row of an instrument version is the one leaders are assigned to.
    """

    __tablename__ = "profile_model"
    __table_args__ = (Index("ix_profile_model_instrument", "instrument_id", "instrument_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[str] = mapped_column(String(80))
    instrument_version: Mapped[int] = mapped_column(Integer)
    # Fitted on demo cohorts (synthetic people) or on real ones; the two never mix.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    k: Mapped[int] = mapped_column(Integer)
    n_leaders: Mapped[int] = mapped_column(Integer)
    model: Mapped[dict[str, Any]] = mapped_column(JSON)
    fitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -- Jobs (assessment/jobs.py): long work off the request, reported the same way by every runner --


class JobState(enum.StrEnum):
    QUEUED = "queued"  # committed, waiting for a runner to claim it
    RUNNING = "running"  # claimed by exactly one runner (a conditional UPDATE decided which)
    DONE = "done"  # every item was tried; some may have an error of their own
    FAILED = "failed"  # the job itself stopped; ``summary`` says why and it may be retried


class Job(Base):
    """One piece of long work: its name, plain-id parameters, state, progress and outcome.

    ``outputs`` maps each finished item to what it produced (e.g. a release id); it is written
    in the same transaction as the item's own effect, so a retried job skips exactly the items
    that are done. ``errors`` lists the items that could not be done, with the reason.
    """

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"), default=JobState.QUEUED)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    items: Mapped[list[list[Any]] | None] = mapped_column(JSON)
    """The job's items as [id, label] pairs, listed when it first starts (assessment/jobs.py)."""
    upload: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """The file the job works on, if any (a large import)."""
    summary: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    requested_by: Mapped[str] = mapped_column(String(320))
    coach_id: Mapped[int | None] = mapped_column(
        ForeignKey("coach.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
