"""Releasing a leader's report to them, under the differencing rule, and the development plan.

A release records who released which report when, the ids and per-group counts of the
responses it used, and the PDF itself: the leader always reads exactly what was released.

Which responses a release uses is decided by the disclosure ledger (assessment/disclosures.py),
like every other disclosure: after any earlier disclosure (a release, an export, the coach's
PDF), a later one may only use responses already disclosed plus whole rater groups of new ones
that cannot be told apart by difference. Newer responses that would expose someone are *held
back*, so nobody — coach included — can read one late rater's answers off a difference. The
PDF released is the ledger's stored artefact for those responses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from assessment import audit
from assessment.cohorts import CohortError, cohort_instrument
from assessment.core.planning import MAX_PLAN_LENGTH, PLANNING_QUESTIONS
from assessment.core.scoring import Rules
from assessment.core.text import free_text
from assessment.disclosures import (
    Ahead,
    Decision,
    content_of,
    decide,
    groups_of,
    held_back_lines,
    leader_pdf,
    record_sets,
)
from assessment.invitations import new_link, undelivered
from assessment.mail import Postman, report_ready_message
from assessment.models import (
    Cohort,
    Comment,
    DevelopmentPlan,
    Leader,
    LinkPurpose,
    ReportRelease,
    utcnow,
)


def releases_of(session: Session, leader: Leader) -> list[ReportRelease]:
    """A leader's releases, oldest first (their PDFs are loaded only when read)."""
    return list(
        session.scalars(
            select(ReportRelease)
            .where(ReportRelease.leader_id == leader.id)
            .order_by(ReportRelease.released_at, ReportRelease.id)
            .options(defer(ReportRelease.pdf))
        )
    )


def latest_release(session: Session, leader: Leader) -> ReportRelease | None:
    history = releases_of(session, leader)
    return history[-1] if history else None


@dataclass(frozen=True)
class ReleaseState:
    """What the coach needs to decide on a (new) release of one leader's report."""

    release: ReportRelease | None
    decision: Decision
    rules: Rules

    @property
    def changed(self) -> bool:
        """Whether a release now would give the leader figures they have not had."""
        return self.release is None or self.decision.response_ids != frozenset(
            self.release.response_ids
        )

    @property
    def problems(self) -> list[str]:
        """Groups whose new responses must wait, so a release cannot reveal anyone by difference."""
        return held_back_lines(self.decision, self.rules)


def release_state(session: Session, leader: Leader) -> ReleaseState:
    """Raises :class:`~assessment.disclosures.CohortOpen` while the cohort takes answers."""
    decision = decide(session, leader.cohort, [leader.id])[leader.id]
    rules = Rules.from_instrument(cohort_instrument(leader.cohort))
    return ReleaseState(latest_release(session, leader), decision, rules)


def release_report(
    session: Session,
    leader: Leader,
    postman: Postman,
    *,
    actor: str,
    ahead: Ahead | None = None,
) -> ReportRelease:
    """Give the leader their report: store it with the responses it used, and tell them.
    ``ahead``: the PDF, if a job made it before this transaction (:class:`Ahead`)."""
    if leader.cohort.is_open:
        raise CohortError("close the cohort before releasing reports, so the figures are final")
    state = release_state(session, leader)
    if not state.changed:
        detail = f" ({'; '.join(state.problems)})" if state.problems else ""
        raise CohortError(
            "this report has already been released and no new responses can be added yet" + detail
        )
    artefact = leader_pdf(session, leader, actor=actor, ahead=ahead)
    decision = state.decision
    record_sets(session, [decision])
    release = ReportRelease(
        leader_id=leader.id,
        released_by=actor,
        response_ids=groups_of(session, decision.response_ids),
        counts=dict(decision.counts),
        pdf=content_of(artefact),
    )
    session.add(release)
    session.flush()
    _keep_only_what_was_released(session, list(decision.response_ids))
    token = new_link(session, leader, LinkPurpose.REPORT_READY, actor=actor)
    postman.deliver(
        session,
        report_ready_message(leader, postman.leader_link(token)),
        leader.cohort,
        on_failure=undelivered(token),
        # One "report ready" per leader and response set, however often a job is retried.
        key=f"report_ready:leader:{leader.id}:set:{decision.digest}",
    )
    audit.record(
        session,
        actor,
        "report.release",
        f"leader:{leader.id}",
        responses=len(decision.response_ids),
        counts=dict(decision.counts),
        held_back=dict(state.decision.held_back),
    )
    return release


def _keep_only_what_was_released(session: Session, response_ids: list[str]) -> None:
    """A moderated comment's original is dropped once its redacted text has been released:
    from then on the detail the coach cut is nowhere, not even in the database."""
    for comment in session.scalars(
        select(Comment).where(
            Comment.response_id.in_(response_ids), Comment.redacted_text.is_not(None)
        )
    ):
        comment.text, comment.redacted_text = cast(str, comment.redacted_text), None
    session.flush()


def development_plan(session: Session, leader: Leader) -> DevelopmentPlan | None:
    return session.scalar(select(DevelopmentPlan).where(DevelopmentPlan.leader_id == leader.id))


def save_plan(session: Session, leader: Leader, answers: Mapping[str, str]) -> DevelopmentPlan:
    """The leader's goals on the three questions of the model; only after their report is out."""
    if latest_release(session, leader) is None:
        raise CohortError("the development plan opens when your report has been released")
    values = {q.key: free_text(answers.get(q.key) or "") for q in PLANNING_QUESTIONS}
    if any(len(v) > MAX_PLAN_LENGTH for v in values.values()):
        raise CohortError(f"please keep each answer under {MAX_PLAN_LENGTH} characters")
    plan = development_plan(session, leader)
    if plan is None:
        plan = DevelopmentPlan(leader_id=leader.id, **values)
        session.add(plan)
    else:
        for key, value in values.items():
            setattr(plan, key, value)
        plan.updated_at = utcnow()
    session.flush()
    return plan


def released_leaders(session: Session, cohort: Cohort) -> dict[int, ReportRelease]:
    """The latest release of each leader of a cohort who has one."""
    latest: dict[int, ReportRelease] = {}
    for release in session.scalars(
        select(ReportRelease)
        .join(Leader)
        .where(Leader.cohort_id == cohort.id)
        .order_by(ReportRelease.released_at, ReportRelease.id)
        .options(defer(ReportRelease.pdf))
    ):
        latest[release.leader_id] = release
    return latest
