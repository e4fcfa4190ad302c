"""From stored data to reports' data: what the disclosure ledger (assessment/disclosures.py)
renders for every caller (web, CLI, demo, batch).

A leader's report and the cohort report are both built from :func:`assessment.results.
cohort_results` (every figure of docs/scoring.md for the cohort, read in one pass), so the
scores, agreement types, percentiles, reliable change and profiles a report prints are the
ones the scoring, psychometrics and profiles modules computed, never recomputed here. What
leaves this module for :mod:`reports` is plain data: no ORM object reaches a template.

Callers that build many reports of one cohort (the batch) compute the cohort's results once
and pass them in as ``results``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy.orm import Session

from assessment.cohorts import completion, slugify
from assessment.core.scoring import score_leader
from assessment.models import Cohort, Leader
from assessment.responses import leader_responses, observer_comments
from assessment.results import CohortResults, cohort_results
from reports.build import CohortPlacement, IndividualReport, individual_report
from reports.cohort import CohortReport, Tally, cohort_report


def leader_report(
    session: Session,
    leader: Leader,
    today: date | None = None,
    *,
    results: CohortResults | None = None,
    response_ids: Collection[str] | None = None,
) -> IndividualReport:
    """The data of one leader's report.

    ``results`` are the cohort's results when the caller already has them (they must have been
    computed with the same ``response_ids``); ``response_ids`` limits the leader's report to
    those responses (a report regenerated after a release, see
    :func:`assessment.core.disclosure.regeneration_responses`).
    """
    if results is None:
        limit = {leader.id: response_ids} if response_ids is not None else None
        results = cohort_results(session, leader.cohort, response_ids=limit)
    instrument, rules = results.instrument, results.rules
    figures = results.figures.leaders.get(leader.id)
    scores = (
        figures.scores
        if figures is not None
        else score_leader(instrument, leader_responses(session, leader, response_ids), rules)
    )
    comments = (
        observer_comments(session, leader, instrument, response_ids)
        if scores.comments_allowed
        else []
    )
    return individual_report(
        instrument=instrument,
        scores=scores,
        leader_name=leader.name,
        cohort_name=leader.cohort.name,
        comments=comments,
        generated_on=today or date.today(),
        rules=rules,
        placement=placement(results, leader.id),
    )


def placement(results: CohortResults, leader_id: int) -> CohortPlacement:
    """What the cohort-level modules say about one leader, as the report builder takes it."""
    profiles = results.profiles
    return CohortPlacement(
        figures=results.figures.leaders.get(leader_id),
        cohort_leaders={d: dist.n for d, dist in results.figures.distributions.items()},
        reference_leaders=dict(results.figures.reference_size),
        profile=profiles.assignments.get(leader_id),
        profile_model=profiles.model,
        profile_unavailable=profiles.unavailable.message if profiles.unavailable else None,
    )


def report_filename(leader: Leader) -> str:
    return f"{slugify(leader.name)}-360-report.pdf"


def cohort_report_data(
    session: Session,
    cohort: Cohort,
    today: date | None = None,
    *,
    results: CohortResults | None = None,
) -> CohortReport:
    """The data of the coach's cohort report: completion counts and the cohort's figures."""
    results = results or cohort_results(session, cohort)
    tallies = [
        Tally(
            # Every leader is asked for one self-assessment, so Self is counted per leader.
            invited={"self": 1, **{g.group: g.invited for g in p.groups}},
            submitted={"self": int(p.self_done), **{g.group: g.submitted for g in p.groups}},
        )
        for p in completion(session, cohort, instrument=results.instrument)
    ]
    profiles = results.profiles
    return cohort_report(
        instrument=results.instrument,
        cohort_name=cohort.name,
        tallies=tallies,
        figures=results.figures,
        generated_on=today or date.today(),
        rules=results.rules,
        profile_model=profiles.model,
        assignments=profiles.assignments,
        profiles_unavailable=profiles.unavailable.message if profiles.unavailable else None,
    )


def cohort_report_filename(cohort: Cohort) -> str:
    return f"{cohort.slug}-cohort-report.pdf"
