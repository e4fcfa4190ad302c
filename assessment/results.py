"""A cohort's results: every figure of docs/scoring.md, read from storage in one pass.

This is the one path from the database to the pure scoring core for whole cohorts: the scores
export, reports and pages all call :func:`cohort_results` and print what it returns. It reads
each table once per cohort (never one query per leader), hands plain data to
:mod:`assessment.core.scoring`, :mod:`assessment.core.psychometrics` and :mod:`assessment.core.profiles`,
and returns plain data (no ORM objects). It never writes, except :func:`fit_profile_model`,
which only flushes; and it fits profiles only there (the profiles job, ``cl360 profiles fit``):
every other path assigns leaders to the stored model, or says why there is none.

What "all data on the same instrument version" means here: every cohort whose frozen
instrument has the same id and version, real cohorts and demo cohorts kept apart (synthetic
people must never shift a real leader's percentile or profile). The reference norms include
the cohort itself.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from assessment.cohorts import cohort_instrument
from assessment.core.instruments import Instrument
from assessment.core.profiles import (
    MIN_LEADERS,
    Assignment,
    NotFittedYet,
    ProfileModel,
    TooFewLeaders,
    Unavailable,
    feature_matrix,
)
from assessment.core.psychometrics import (
    Baseline,
    CohortFigures,
    Norms,
    ShownScores,
    cohort_figures,
    cohort_norms,
)
from assessment.core.scoring import Rules
from assessment.models import Cohort, CohortStatus, Leader, ProfileModelRecord
from assessment.responses import cohort_predictions, cohort_response_table


def scoring_rules(cohort: Cohort, instrument: Instrument | None = None) -> Rules:
    """The anonymity minimums of the cohort's instrument and the cohort's own gap threshold."""
    instrument = instrument or cohort_instrument(cohort)
    return Rules.from_instrument(instrument, gap_threshold=cohort.gap_threshold)


@dataclass(frozen=True)
class LeaderInfo:
    """Who a leader is, for labelling figures; never anything about their raters."""

    id: int
    name: str
    email: str
    department: str | None


@dataclass(frozen=True)
class Profiles:
    """The stored profile model leaders are assigned to, or why there is none."""

    model: ProfileModel | None
    unavailable: Unavailable | None
    assignments: dict[int, Assignment]


@dataclass(frozen=True)
class CohortResults:
    """Everything the scoring layer lets out for a cohort, keyed by leader id."""

    slug: str
    name: str
    instrument: Instrument
    rules: Rules
    leaders: dict[int, LeaderInfo]
    figures: CohortFigures[int]
    profiles: Profiles


def cohort_results(
    session: Session,
    cohort: Cohort,
    *,
    instrument: Instrument | None = None,
    response_ids: Mapping[int, Collection[str]] | None = None,
    profiles: bool = True,
) -> CohortResults:
    """Score a whole cohort, place every leader in it and in the reference data, assign profiles.

    ``instrument`` is the cohort's, when the caller has read it already. ``response_ids``
    limits chosen leaders to the responses their report may use (after a release, see
    :func:`assessment.core.disclosure.regeneration_responses`). ``profiles=False`` skips the
    profile model (it needs the whole reference population, which may be large).
    """
    instrument = instrument or cohort_instrument(cohort)
    rules = scoring_rules(cohort, instrument)
    same = _same_instrument(session, cohort)
    norms = {c.id: _norms_of(session, c) for c in same}
    figures = cohort_figures(
        instrument,
        cohort_response_table(session, cohort.id, instrument, response_ids),
        rules,
        reference=_reference_values(instrument, norms),
        baselines=_baselines(session, cohort, same, norms),
        predictions=cohort_predictions(session, cohort.id, response_ids),
    )
    leaders = {
        leader.id: LeaderInfo(leader.id, leader.name, leader.email, leader.department)
        for leader in session.scalars(
            select(Leader).where(Leader.cohort_id == cohort.id).order_by(Leader.name, Leader.id)
        )
    }
    if profiles:
        population: _Population = [figures.placings, *(n.leaders for n in norms.values())]
        found = _profiles(session, cohort, instrument, figures, population)
    else:
        found = Profiles(None, None, {})
    return CohortResults(cohort.slug, cohort.name, instrument, rules, leaders, figures, found)


def _same_instrument(session: Session, cohort: Cohort) -> list[Cohort]:
    """The other closed cohorts on the same instrument version, real or demo like this one.

    An open cohort's answers never reach another cohort's norms or baselines: its figures
    would move there as its raters answer (docs/anonymity.md)."""
    return list(
        session.scalars(
            select(Cohort)
            .where(
                Cohort.instrument_id == cohort.instrument_id,
                Cohort.instrument_version == cohort.instrument_version,
                Cohort.is_demo == cohort.is_demo,
                Cohort.status == CohortStatus.CLOSED,
                Cohort.id != cohort.id,
            )
            .order_by(Cohort.created_at, Cohort.id)
        )
    )


def _norms_of(session: Session, cohort: Cohort) -> Norms[int]:
    """A cohort scored on its own (its own rules), for the norms and baselines of the others."""
    instrument = cohort_instrument(cohort)
    return cohort_norms(
        instrument,
        cohort_response_table(session, cohort.id, instrument),
        scoring_rules(cohort, instrument),
    )


def _reference_values(
    instrument: Instrument, norms: Mapping[int, Norms[int]]
) -> dict[str, list[float]]:
    """The other cohorts' shown Others scores per dimension (the cohort adds its own)."""
    return {
        d.id: [
            leader.others[d.id]
            for other in norms.values()
            for leader in other.leaders.values()
            if d.id in leader.others
        ]
        for d in instrument.dimensions
    }


def _baselines(
    session: Session, cohort: Cohort, same: list[Cohort], norms: Mapping[int, Norms[int]]
) -> dict[int, Baseline]:
    """Each leader's most recent earlier cohort on the same instrument, matched by email
    (case-insensitive)."""
    earlier = [c for c in same if c.id < cohort.id]  # ids grow with creation
    if not earlier:
        return {}
    ours = {
        email.lower(): leader_id
        for leader_id, email in session.execute(
            select(Leader.id, Leader.email).where(Leader.cohort_id == cohort.id)
        )
    }
    found: dict[int, Baseline] = {}
    for previous in reversed(earlier):  # most recent first; the first match wins
        rows = session.execute(
            select(Leader.id, func.lower(Leader.email)).where(Leader.cohort_id == previous.id)
        )
        for previous_id, email in rows:
            leader_id = ours.get(email)
            if leader_id is None or leader_id in found:
                continue
            baseline = norms[previous.id].baseline(previous_id, previous.name)
            if baseline is not None:
                found[leader_id] = baseline
    return found


# -- profiles -----------------------------------------------------------------------------


def _latest_model(cohort: Cohort) -> Select[Any]:
    """The latest profile model fitted for the cohort's instrument version (real or demo)."""
    return (
        select(ProfileModelRecord)
        .where(
            ProfileModelRecord.instrument_id == cohort.instrument_id,
            ProfileModelRecord.instrument_version == cohort.instrument_version,
            ProfileModelRecord.is_demo == cohort.is_demo,
        )
        .order_by(ProfileModelRecord.fitted_at.desc(), ProfileModelRecord.id.desc())
        .limit(1)
    )


def stored_profile_model(session: Session, cohort: Cohort) -> ProfileModel | None:
    record = session.scalar(_latest_model(cohort))
    return ProfileModel.from_data(record.model) if record else None


def profile_model_id(session: Session, cohort: Cohort) -> int | None:
    """Which stored model the cohort's figures are assigned to: part of what names a stored
    disclosure, so a report made before profiles were fitted is made again after."""
    return session.scalar(_latest_model(cohort).with_only_columns(ProfileModelRecord.id))


_Population = Sequence[Mapping[int, ShownScores]]
"""The reference population of the profiles: each cohort's leaders with their shown scores."""


def _reference_features(instrument: Instrument, cohorts: _Population) -> np.ndarray:
    """One feature row per leader of the reference population with every feature shown."""
    dimension_ids = [d.id for d in instrument.dimensions]
    rows = [feature_matrix(leaders, dimension_ids)[1] for leaders in cohorts]
    return np.vstack(rows) if rows else np.empty((0, 2 * len(dimension_ids)))


def _fit(instrument: Instrument, cohorts: _Population) -> ProfileModel | TooFewLeaders:
    # scikit-learn is imported here, on the first fit, not with the app: every other path
    # (pages, exports, the CLI) assigns leaders to a stored model with NumPy alone.
    from assessment.core.profile_fitting import fit_profiles

    return fit_profiles(
        _reference_features(instrument, cohorts),
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        dimension_ids=[d.id for d in instrument.dimensions],
        dimension_names=[d.name for d in instrument.dimensions],
        min_leaders=MIN_LEADERS,
    )


def _profiles(
    session: Session,
    cohort: Cohort,
    instrument: Instrument,
    figures: CohortFigures[int],
    cohorts: _Population,
) -> Profiles:
    """Leaders assigned to the stored model; never a model fitted here (a page would wait for
    it): without one, why not (too few leaders, or not fitted yet, see :class:`NotFittedYet`)."""
    model = stored_profile_model(session, cohort)
    if model is not None:
        return Profiles(model, None, model.assign_leaders(figures.placings))
    leaders = len(_reference_features(instrument, cohorts))
    unavailable: Unavailable = (
        NotFittedYet(leaders) if leaders >= MIN_LEADERS else TooFewLeaders(leaders)
    )
    return Profiles(None, unavailable, {})


def fit_profile_model(session: Session, cohort: Cohort) -> ProfileModel | TooFewLeaders:
    """Fit profiles on all data of the cohort's instrument version and store the model.

    Later leaders on the same instrument version are assigned to it (:func:`cohort_results`)
    until it is fitted again. Stores nothing when there are too few leaders. Only flushes.
    """
    instrument = cohort_instrument(cohort)
    cohorts = [_norms_of(session, c).leaders for c in [cohort, *_same_instrument(session, cohort)]]
    fitted = _fit(instrument, cohorts)
    if isinstance(fitted, ProfileModel):
        session.add(
            ProfileModelRecord(
                instrument_id=fitted.instrument_id,
                instrument_version=fitted.instrument_version,
                is_demo=cohort.is_demo,
                k=fitted.k,
                n_leaders=fitted.n_leaders,
                model=fitted.to_data(),
            )
        )
        session.flush()
    return fitted
