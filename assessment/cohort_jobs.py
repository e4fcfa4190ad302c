"""Jobs over a whole cohort, run by assessment/jobs.py: releasing every leader's report.

Each leader is one item with its own transaction, going through the same
:func:`assessment.releases.release_report` as the single release (so the disclosure ledger
decides every release); a leader who cannot be released is listed with the reason it gives.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from assessment import releases
from assessment.cohorts import CohortError
from assessment.jobs import JobRun, job
from assessment.mail import MailError
from assessment.models import Cohort, Leader

RELEASE_ALL = "release_all"


@job(RELEASE_ALL)
def release_all(run: JobRun, cohort_id: int) -> str:
    """Release the report of every leader of a closed cohort; the summary counts them."""
    with run.database.transaction() as session:
        cohort = session.get(Cohort, cohort_id)
        if cohort is None:
            raise CohortError(f"there is no cohort {cohort_id}")
        if cohort.is_open:
            raise CohortError("close the cohort before releasing reports, so the figures are final")
        leaders = [
            (leader.id, leader.name)
            for leader in session.scalars(
                select(Leader).where(Leader.cohort_id == cohort_id).order_by(Leader.name)
            )
        ]

    def release(session: Session, leader_id: int) -> int:
        leader = session.get(Leader, leader_id)
        if leader is None:
            raise CohortError("this leader has been removed")
        return releases.release_report(session, leader, run.postman, actor=run.actor).id

    released = run.each(leaders, release, expected=(CohortError, MailError))
    return f"{released} of {len(leaders)} reports released."
