"""From stored responses to a leader's report: the one path every caller (web, CLI, demo) uses."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from assessment.cohorts import cohort_instrument, slugify
from assessment.models import Leader
from assessment.responses import leader_responses, observer_comments
from assessment.scoring import Rules, score_leader
from reports.build import IndividualReport, individual_report
from reports.render import render_pdf


def leader_report(session: Session, leader: Leader, today: date | None = None) -> IndividualReport:
    instrument = cohort_instrument(leader.cohort)
    rules = Rules.from_instrument(instrument)
    scores = score_leader(instrument, leader_responses(session, leader), rules)
    return individual_report(
        instrument=instrument,
        scores=scores,
        leader_name=leader.name,
        cohort_name=leader.cohort.name,
        comments=observer_comments(session, leader, instrument) if scores.comments_allowed else [],
        generated_on=today or date.today(),
        rules=rules,
    )


def leader_report_pdf(session: Session, leader: Leader) -> bytes:
    return render_pdf(leader_report(session, leader))


def report_filename(leader: Leader) -> str:
    return f"{slugify(leader.name)}-360-report.pdf"
