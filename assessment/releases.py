"""Releasing a leader's report to them, under the differencing rule, and the development plan.

A release records who released which report when, the ids and per-group counts of the
responses it used, and the PDF itself: the leader always reads exactly what was released.

Differencing (PRODUCT §4) is decided by :func:`assessment.scoring.regeneration_responses`:
after a release, a later report may only use the released responses plus whole rater groups of
new ones that cannot be told apart by difference (in practice, at least the group's minimum of
new responses, and the Others minimum overall). Newer responses that would expose someone are
*held back*: a new release uses what may be used, and the coach's own PDF download follows
the same rule, so nobody — coach included — can read one late rater's answers off a difference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from assessment import audit
from assessment.cohorts import CohortError, cohort_instrument
from assessment.invitations import new_link, undelivered
from assessment.mail import Postman, report_ready_message
from assessment.models import (
    Cohort,
    DevelopmentPlan,
    Leader,
    LinkPurpose,
    ReportRelease,
    utcnow,
)
from assessment.reporting import leader_report
from assessment.responses import leader_responses_by_id
from assessment.scoring import Regeneration, Rules, regeneration_responses
from assessment.text import free_text
from reports.render import render_pdf

PLAN_QUESTIONS = {
    "purpose": "What is your leadership for?",
    "pressure": "What do I notice in myself under pressure?",
    "courage": "Where do I need courage?",
}
MAX_PLAN_LENGTH = 8000


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
    regeneration: Regeneration
    labels: dict[str, str]

    @property
    def changed(self) -> bool:
        return self.release is None or not self.regeneration.unchanged

    @property
    def can_release(self) -> bool:
        return self.changed

    @property
    def problems(self) -> list[str]:
        """Groups whose new responses must wait, so a release cannot reveal anyone by difference."""
        return [
            f"{self.labels.get(group, group)}: {count} new response{'s' if count != 1 else ''} "
            "held back until enough others arrive"
            for group, count in sorted(self.regeneration.held_back.items())
        ]


def release_state(session: Session, leader: Leader) -> ReleaseState:
    instrument = cohort_instrument(leader.cohort)
    rules = Rules.from_instrument(instrument)
    history = releases_of(session, leader)
    regeneration = regeneration_responses(
        instrument,
        leader_responses_by_id(session, leader),
        [list(r.response_ids) for r in history],
        rules,
    )
    labels = {g.id: g.label for g in instrument.rater_groups}
    return ReleaseState(history[-1] if history else None, regeneration, labels)


def release_report(
    session: Session, leader: Leader, postman: Postman, *, actor: str
) -> ReportRelease:
    """Give the leader their report: store it with the responses it used, and tell them."""
    if leader.cohort.is_open:
        raise CohortError("close the cohort before releasing reports, so the figures are final")
    state = release_state(session, leader)
    if not state.changed:
        detail = f" ({'; '.join(state.problems)})" if state.problems else ""
        raise CohortError(
            "this report has already been released and no new responses can be added yet" + detail
        )
    ids = state.regeneration.response_ids
    used = {
        response_id: response.relationship
        for response_id, response in leader_responses_by_id(session, leader, ids).items()
    }
    counts = dict(Counter(used.values()))
    release = ReportRelease(
        leader_id=leader.id,
        released_by=actor,
        response_ids=used,
        counts=counts,
        pdf=render_pdf(leader_report(session, leader, response_ids=ids)),
    )
    session.add(release)
    session.flush()
    token = new_link(session, leader, LinkPurpose.REPORT_READY, actor=actor)
    postman.deliver(
        session,
        report_ready_message(leader, postman.leader_link(token)),
        leader.cohort,
        on_failure=undelivered(token),
    )
    audit.record(
        session,
        actor,
        "report.release",
        f"leader:{leader.id}",
        responses=len(used),
        counts=counts,
        held_back=dict(state.regeneration.held_back),
    )
    return release


def coach_report_pdf(session: Session, leader: Leader) -> bytes:
    """The coach's download: every response before any release; afterwards, only those the
    differencing rule lets a new report use (the coach is a reader too)."""
    state = release_state(session, leader)
    if state.release is None:
        return render_pdf(leader_report(session, leader))
    if state.regeneration.unchanged:
        return state.release.pdf
    return render_pdf(leader_report(session, leader, response_ids=state.regeneration.response_ids))


def development_plan(session: Session, leader: Leader) -> DevelopmentPlan | None:
    return session.scalar(select(DevelopmentPlan).where(DevelopmentPlan.leader_id == leader.id))


def save_plan(session: Session, leader: Leader, answers: Mapping[str, str]) -> DevelopmentPlan:
    """The leader's goals on the three questions of the model; only after their report is out."""
    if latest_release(session, leader) is None:
        raise CohortError("the development plan opens when your report has been released")
    values = {key: free_text(answers.get(key) or "") for key in PLAN_QUESTIONS}
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
