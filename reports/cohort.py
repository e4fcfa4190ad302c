"""Build the display-ready data of a cohort report for its coach (docs/reports.md).

The cohort report shows the cohort as a whole: completion by rater group, the distribution of
leaders' Others scores per capability, Cronbach's alpha, and the leader profiles (or why there
are none). It never names a leader beside a figure. Its inputs are plain data from the pure
modules, gathered by :mod:`assessment.reporting`:

- counts of invitations and submissions per leader and group (never answers), and
- :class:`assessment.core.psychometrics.CohortFigures`, whose per-leader figures contain only what
  :func:`assessment.core.scoring.score_leader` let out: a leader whose Others score for a capability
  was withheld is simply not in that capability's distribution.

A distribution, or a count of agreement types, is printed only when at least the Others minimum
of leaders contribute to it, so that no single leader's score can be read from it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from assessment.core.instruments import Instrument
from assessment.core.psychometrics import mean_absolute_prediction_error
from assessment.core.scoring import Rules
from reports.build import AGREEMENT_LABELS, Provenance, number, percent, provenance

if TYPE_CHECKING:  # only types: building a report must not import scikit-learn
    from assessment.core.profiles import Assignment, ProfileModel
    from assessment.core.psychometrics import CohortFigures, Placing

COHORT_REPORT_TITLE = "Cohort report"
ALPHA_ACCEPTABLE = 0.7
"""Conventional floor for acceptable internal consistency, named in the report's explanation."""


# -- input ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tally:
    """One leader's invitations and submissions per rater group ("self" included): counts only."""

    invited: Mapping[str, int]
    submitted: Mapping[str, int]


# -- output --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupCompletion:
    label: str
    minimum: int | None  # None for the self-assessment, which has no anonymity minimum
    leaders_invited: int
    invited: int
    submitted: int
    rate: str
    leaders_met: int
    """Leaders whose group reached its minimum (or, for Self, who completed it)."""
    share: float  # submitted / invited, 0..1, for the chart


@dataclass(frozen=True)
class DimensionSpread:
    """One capability's distribution and alpha: numbers at full precision (the chart places its
    marks with them), printed with two decimals by the properties the tables read."""

    id: str
    name: str
    n: int  # leaders with an Others score shown
    shown: bool  # enough leaders to print the distribution
    values: list[float]  # sorted; empty unless shown
    mean_value: float | None  # None unless shown, like the SD and the median
    sd_value: float | None
    median_value: float | None
    note: str | None
    alpha_value: float | None
    alpha_n: int
    n_items: int
    alpha_note: str | None
    agreement_counts: list[int]  # in AGREEMENT_LABELS order; empty when not shown
    agreement_note: str | None

    @property
    def mean(self) -> str | None:
        return _printed(self.mean_value)

    @property
    def sd(self) -> str | None:
        return _printed(self.sd_value)

    @property
    def median(self) -> str | None:
        return _printed(self.median_value)

    @property
    def lowest(self) -> str | None:
        return _printed(self.values[0] if self.values else None)

    @property
    def highest(self) -> str | None:
        return _printed(self.values[-1] if self.values else None)

    @property
    def alpha(self) -> str | None:
        return _printed(self.alpha_value)


def _printed(value: float | None) -> str | None:
    return None if value is None else number(value)


@dataclass(frozen=True)
class PredictionSpread:
    """How leaders' predictions of their Others scores went, for a capability or overall."""

    label: str
    predicted: int  # leaders who made a prediction
    compared: int  # of those, leaders whose prediction could be compared with an Others score
    median_error: str | None  # median absolute error among them; None when too few
    note: str | None


@dataclass(frozen=True)
class ProfileRow:
    name: str
    in_cohort: int
    in_reference: int


@dataclass(frozen=True)
class CohortReport(Provenance):
    """Everything the cohort report prints, already aggregated and labelled."""

    kind: ClassVar[tuple[str, ...]] = ("cohort report",)

    cohort_name: str
    scale_points: int
    first_anchor: str
    last_anchor: str
    n_leaders: int
    self_done: int
    with_observer_scores: int
    observer_responses: int
    others_minimum: int
    completion: list[GroupCompletion]
    dimensions: list[DimensionSpread]
    agreement_labels: list[str]
    predictions: list[PredictionSpread]
    """One row per capability, then one over all capabilities (each leader's mean error)."""
    predictors: int  # leaders who predicted anything
    profiles: list[ProfileRow]
    profiles_note: str | None
    profiles_n: int | None
    profiles_stability: str | None
    unassigned: int

    @property
    def distribution_notes(self) -> list[str]:
        """Why a distribution or an alpha is missing, one sentence each."""
        notes = [d.note for d in self.dimensions if d.note]
        notes += [f"{d.name}, alpha: {d.alpha_note}" for d in self.dimensions if d.alpha_note]
        return notes

    @property
    def prediction_notes(self) -> list[str]:
        return [f"{p.label}: {p.note}" for p in self.predictions if p.note]


# -- building ------------------------------------------------------------------------------


def cohort_report(
    *,
    instrument: Instrument,
    cohort_name: str,
    tallies: Sequence[Tally],
    figures: CohortFigures[Any],
    generated_on: date,
    rules: Rules | None = None,
    profile_model: ProfileModel | None = None,
    assignments: Mapping[Any, Assignment] | None = None,
    profiles_unavailable: str | None = None,
) -> CohortReport:
    """The data of a cohort report.

    ``figures`` is what :func:`assessment.core.psychometrics.cohort_figures` returned for the
    cohort; ``profile_model`` and ``assignments`` the profile model and the cohort's leaders
    assigned to it, or
    ``profiles_unavailable`` the reason there is none (for example
    :attr:`assessment.core.profiles.TooFewLeaders.message`).
    """
    rules = rules or Rules.from_instrument(instrument)
    leaders = list(figures.placings.values())
    assignments = assignments or {}
    counts = [0] * (profile_model.k if profile_model else 0)
    for assignment in assignments.values():
        if 0 <= assignment.index < len(counts):
            counts[assignment.index] += 1
    profiles = (
        [
            ProfileRow(name, counts[i], profile_model.sizes[i])
            for i, name in enumerate(profile_model.names)
        ]
        if profile_model
        else []
    )
    if profile_model is None and profiles_unavailable is None:
        profiles_unavailable = "Profiles were not available for this report."
    return CohortReport(
        **provenance(COHORT_REPORT_TITLE, instrument, generated_on),
        cohort_name=cohort_name,
        scale_points=instrument.scale.points,
        first_anchor=instrument.scale.anchors[0],
        last_anchor=instrument.scale.anchors[-1],
        n_leaders=len(tallies),
        self_done=sum(1 for t in tallies if t.submitted.get("self", 0) > 0),
        with_observer_scores=sum(1 for s in figures.scored.values() if s.others is not None),
        observer_responses=sum(
            n for t in tallies for group, n in t.submitted.items() if group != "self"
        ),
        others_minimum=rules.others_minimum,
        completion=_completion(instrument, tallies, rules),
        dimensions=[
            _spread(instrument, d.id, d.name, figures, leaders, rules)
            for d in instrument.dimensions
        ],
        agreement_labels=list(AGREEMENT_LABELS.values()),
        predictions=_predictions(instrument, leaders, rules),
        predictors=sum(1 for f in leaders if f.predictions),
        profiles=profiles,
        profiles_note=profiles_unavailable if profile_model is None else None,
        profiles_n=profile_model.n_leaders if profile_model else None,
        profiles_stability=number(profile_model.stability)
        if profile_model and profile_model.stability is not None
        else None,
        unassigned=len(leaders) - sum(counts) if profile_model else 0,
    )


def _completion(
    instrument: Instrument, tallies: Sequence[Tally], rules: Rules
) -> list[GroupCompletion]:
    rows = []
    for group in instrument.rater_groups:
        invited = [t.invited.get(group.id, 0) for t in tallies]
        submitted = [t.submitted.get(group.id, 0) for t in tallies]
        minimum = None if group.id == "self" else rules.minimum(group.id)
        rows.append(
            _completion_row(group.label, minimum or 1, invited, submitted, minimum is not None)
        )
    observers = [g.id for g in instrument.observer_groups]
    invited = [sum(t.invited.get(g, 0) for g in observers) for t in tallies]
    submitted = [sum(t.submitted.get(g, 0) for g in observers) for t in tallies]
    rows.append(
        _completion_row("All observers (Others)", rules.others_minimum, invited, submitted, True)
    )
    return rows


def _completion_row(
    label: str, minimum: int, invited: list[int], submitted: list[int], has_minimum: bool
) -> GroupCompletion:
    total_invited, total_submitted = sum(invited), sum(submitted)
    share = total_submitted / total_invited if total_invited else 0.0
    return GroupCompletion(
        label=label,
        minimum=minimum if has_minimum else None,
        leaders_invited=sum(1 for n in invited if n),
        invited=total_invited,
        submitted=total_submitted,
        rate=percent(share) if total_invited else "–",
        leaders_met=sum(1 for n in submitted if n >= minimum),
        share=min(share, 1.0),
    )


def _spread(
    instrument: Instrument,
    dimension_id: str,
    name: str,
    figures: CohortFigures[Any],
    leaders: Sequence[Placing],
    rules: Rules,
) -> DimensionSpread:
    values = sorted(f.others[dimension_id] for f in leaders if dimension_id in f.others)
    distribution = figures.distributions.get(dimension_id)
    shown = len(values) >= rules.others_minimum and distribution is not None
    reliability = figures.reliability.get(dimension_id)
    alpha = reliability.alpha if reliability else None
    alpha_n = reliability.n_responses if reliability else 0
    n_items = reliability.n_items if reliability else len(instrument.items_of(dimension_id))
    alpha_note = None
    if alpha is None:
        if alpha_n < rules.others_minimum:
            alpha_note = (
                f"Not computed: {alpha_n} observer responses answered every item, and at least "
                f"{rules.others_minimum} are needed."
            )
        else:
            alpha_note = "Not computed: the answers do not vary enough."
    types = [f.agreement[dimension_id] for f in leaders if dimension_id in f.agreement]
    agreement_counts: list[int] = []
    agreement_note = None
    if len(types) >= rules.others_minimum:
        keys = list(AGREEMENT_LABELS)
        agreement_counts = [sum(1 for t in types if str(t) == key) for key in keys]
    else:
        agreement_note = (
            f"{len(types)} leaders have an agreement type here; at least {rules.others_minimum} "
            "are needed to show how they divide."
        )
    return DimensionSpread(
        id=dimension_id,
        name=name,
        n=len(values),
        shown=shown,
        values=values if shown else [],
        mean_value=distribution.mean if shown and distribution else None,
        sd_value=distribution.sd if shown and distribution else None,
        median_value=distribution.median if shown and distribution else None,
        note=None
        if shown
        else (
            f"{len(values)} leaders have an Others score shown for {name}; the distribution is "
            f"printed from {rules.others_minimum} leaders, so that no one leader's score can be "
            "read from it."
        ),
        alpha_value=alpha,
        alpha_n=alpha_n,
        n_items=n_items,
        alpha_note=alpha_note,
        agreement_counts=agreement_counts,
        agreement_note=agreement_note,
    )


def _predictions(
    instrument: Instrument, leaders: Sequence[Placing], rules: Rules
) -> list[PredictionSpread]:
    """Per capability, the absolute errors of the leaders' predictions; overall, each leader's
    mean absolute prediction error (docs/scoring.md). Medians only, from enough leaders."""
    rows = []
    for dimension in instrument.dimensions:
        made = [f.predictions[dimension.id] for f in leaders if dimension.id in f.predictions]
        errors = [abs(p.error) for p in made if p.error is not None]
        rows.append(_prediction_spread(dimension.name, len(made), errors, rules))
    predictors = [f.predictions for f in leaders if f.predictions]
    means = [e for e in map(mean_absolute_prediction_error, predictors) if e is not None]
    rows.append(_prediction_spread("All capabilities", len(predictors), means, rules))
    return rows


def _prediction_spread(
    label: str, predicted: int, errors: list[float], rules: Rules
) -> PredictionSpread:
    shown = len(errors) >= rules.others_minimum
    note = None
    if predicted and not shown:
        note = (
            f"{len(errors)} leaders' predictions could be compared; a median is printed from "
            f"{rules.others_minimum} leaders, so that no one leader's figure can be read from it."
        )
    return PredictionSpread(
        label=label,
        predicted=predicted,
        compared=len(errors),
        median_error=number(statistics.median(errors)) if shown else None,
        note=note,
    )
