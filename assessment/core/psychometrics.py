"""Figures that need a whole cohort: reliability, norms, agreement types, reliable change, and
how well each leader predicted their Others scores.

``docs/scoring.md`` defines them and writes out each formula. Like :mod:`assessment.core.scoring`
this module is pure (data in, data out, no Flask, no database), and it only ever builds on what
:func:`assessment.core.scoring.score_leader` lets out: a leader whose Others score for a dimension is
withheld gets no percentile and no agreement type for it, and does not enter the distribution
that places everybody else. Leaders are identified by whatever key the caller uses (a database
id, an email); the functions only pass the keys through.
"""

from __future__ import annotations

import bisect
import enum
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from assessment.core.instruments import RATER_GROUPS, Instrument
from assessment.core.scoring import (
    TOLERANCE,
    LeaderScores,
    RaterResponse,
    ResponseTable,
    Rules,
    ScoredLeaders,
    score_leaders,
    scored_matrix,
)

K = TypeVar("K")

RELIABLE_CHANGE = 1.96
"""|RCI| above this is a reliable change at the 95% level (Jacobson & Truax, 1991)."""


# -- Cronbach's alpha ---------------------------------------------------------------------


def cronbach_alpha(rows: Sequence[Sequence[float]] | np.ndarray) -> float | None:
    """alpha = k / (k - 1) * (1 - sum of item variances / variance of the totals).

    ``rows`` holds one complete response per row (reverse-keyed items already reversed) and one
    item per column; variances use n - 1. ``None`` when it is undefined: fewer than two rows or
    items, or totals that do not vary at all.
    """
    matrix = np.asarray(rows, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        return None
    k = matrix.shape[1]
    total_variance = float(np.var(matrix.sum(axis=1), ddof=1))
    if total_variance <= 0:
        return None
    item_variances = float(np.var(matrix, axis=0, ddof=1).sum())
    return float(k / (k - 1) * (1 - item_variances / total_variance))


@dataclass(frozen=True)
class Reliability:
    """Internal consistency of one dimension over a cohort's observer responses."""

    dimension: str
    alpha: float | None
    n_responses: int
    """Observer responses that answered every item of the dimension (the rows alpha used)."""
    n_items: int


def table_reliability(
    instrument: Instrument, table: ResponseTable[Any], minimum: int
) -> dict[str, Reliability]:
    """Cronbach's alpha per dimension over every observer response of a table.

    A response counts for a dimension when it answered every one of its items (reverse-keyed
    items reversed first). Like every observer figure, alpha needs at least ``minimum``
    such responses (the Others minimum); below that it is ``None``.
    """
    observers = table.relationship != RATER_GROUPS.index("self")
    scored = scored_matrix(instrument, table.answers[observers])
    column = {item.id: index for index, item in enumerate(instrument.items)}
    result = {}
    for dimension in instrument.dimensions:
        block = scored[:, [column[item.id] for item in instrument.items_of(dimension.id)]]
        complete = block[~np.isnan(block).any(axis=1)]
        alpha = cronbach_alpha(complete) if len(complete) >= minimum else None
        result[dimension.id] = Reliability(dimension.id, alpha, len(complete), block.shape[1])
    return result


def cohort_reliability(
    instrument: Instrument, responses: Iterable[RaterResponse], minimum: int = 3
) -> dict[str, Reliability]:
    """Cronbach's alpha per dimension over a cohort's responses (docs/scoring.md)."""
    table = ResponseTable.from_responses(instrument, {0: list(responses)})
    return table_reliability(instrument, table, minimum)


# -- norms --------------------------------------------------------------------------------


def percentile_rank(value: float, population: Sequence[float]) -> float:
    """Mid-rank percentile: 100 * (number below + half the number equal) / N.

    ``population`` must be sorted and include ``value`` itself. Values within
    :data:`~assessment.core.scoring.TOLERANCE` count as equal, so two means that are equal by hand
    tie even when binary rounding differs in the last bit.
    """
    below = bisect.bisect_left(population, value - TOLERANCE)
    equal = bisect.bisect_right(population, value + TOLERANCE) - below
    return 100 * (below + equal / 2) / len(population)


@dataclass(frozen=True)
class Distribution:
    """The spread of shown Others scores for one dimension across leaders."""

    dimension: str
    n: int
    mean: float | None
    sd: float | None
    median: float | None

    @property
    def margin(self) -> float | None:
        """Half the SD: how far self and Others may differ and still "agree" (Atwater & Yammarino)."""
        return None if self.sd is None else self.sd / 2

    @classmethod
    def of(cls, dimension: str, values: Sequence[float]) -> Distribution:
        n = len(values)
        if n == 0:
            return cls(dimension, 0, None, None, None)
        mean = math.fsum(values) / n
        sd = math.sqrt(math.fsum([(v - mean) ** 2 for v in values]) / (n - 1)) if n > 1 else None
        ordered = sorted(values)
        middle = n // 2
        median = ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return cls(dimension, n, mean, sd, median)


# -- self-other agreement ------------------------------------------------------------------


class AgreementType(enum.StrEnum):
    """Atwater & Yammarino's four self-other agreement types, per dimension."""

    OVER_ESTIMATOR = "over-estimator"
    UNDER_ESTIMATOR = "under-estimator"
    IN_AGREEMENT_HIGH = "in-agreement/high"
    IN_AGREEMENT_LOW = "in-agreement/low"

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS = {
    AgreementType.OVER_ESTIMATOR: "You rate yourself higher than others rate you.",
    AgreementType.UNDER_ESTIMATOR: "You rate yourself lower than others rate you.",
    AgreementType.IN_AGREEMENT_HIGH: (
        "You and others agree, and others rate you at or above the middle of the cohort."
    ),
    AgreementType.IN_AGREEMENT_LOW: (
        "You and others agree, and others rate you below the middle of the cohort."
    ),
}


def agreement_type(
    self_score: float, others_score: float, margin: float, median: float
) -> AgreementType:
    """Over-estimator when self - Others > margin, under-estimator when Others - self > margin,
    otherwise in agreement, high when Others is at or above the cohort median, else low."""
    gap = self_score - others_score
    if gap > margin + TOLERANCE:
        return AgreementType.OVER_ESTIMATOR
    if -gap > margin + TOLERANCE:
        return AgreementType.UNDER_ESTIMATOR
    if others_score >= median - TOLERANCE:
        return AgreementType.IN_AGREEMENT_HIGH
    return AgreementType.IN_AGREEMENT_LOW


# -- reliable change -----------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """Change of a leader's Others score since their earlier cohort (Jacobson & Truax)."""

    before: float
    now: float
    s_diff: float
    rci: float

    @property
    def difference(self) -> float:
        return self.now - self.before

    @property
    def reliable(self) -> bool:
        return abs(self.rci) > RELIABLE_CHANGE


def reliable_change(
    now: float, before: float, sd_before: float | None, alpha_before: float | None
) -> Change | None:
    """RCI = (now - before) / S_diff with S_diff = sqrt(2) * SD * sqrt(1 - alpha).

    SD and alpha are the earlier cohort's (its SD of Others scores and its alpha for the
    dimension). ``None`` when either is unknown or S_diff is not positive (alpha of 1 or more).
    """
    if sd_before is None or alpha_before is None or alpha_before >= 1:
        return None
    s_diff = math.sqrt(2) * sd_before * math.sqrt(1 - alpha_before)
    if s_diff <= 0:
        return None
    return Change(before=before, now=now, s_diff=s_diff, rci=(now - before) / s_diff)


# -- predicted views -----------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """The leader's own prediction of their Others score on a dimension, beside the actual one.

    ``others`` is ``None`` when the Others score is withheld: a prediction can then be shown
    to its leader (it is their own answer) but not compared with anything.
    """

    predicted: float
    others: float | None

    @property
    def error(self) -> float | None:
        """Predicted minus actual: positive when the leader expected a higher Others score."""
        return None if self.others is None else self.predicted - self.others


def predictions_against(
    predicted: Mapping[str, float], others: Mapping[str, float]
) -> dict[str, Prediction]:
    """Each predicted dimension with the leader's shown Others score for it (if any)."""
    return {d: Prediction(value, others.get(d)) for d, value in predicted.items()}


def mean_absolute_prediction_error(predictions: Mapping[str, Prediction]) -> float | None:
    """Mean of |predicted - Others| over the dimensions that have both (docs/scoring.md).

    A behavioural measure of self-awareness: how well the leader knows how they come across.
    ``None`` when no prediction can be compared (none made, or Others withheld everywhere).
    """
    errors = [abs(p.error) for p in predictions.values() if p.error is not None]
    return sum(errors) / len(errors) if errors else None


@dataclass(frozen=True)
class Baseline:
    """What reliable change needs from a leader's earlier cohort on the same instrument."""

    cohort: str
    others: Mapping[str, float]
    """The leader's shown Others score per dimension then."""
    sd: Mapping[str, float | None]
    """That cohort's SD of Others scores per dimension."""
    alpha: Mapping[str, float | None]
    """That cohort's Cronbach's alpha per dimension."""


# -- a whole cohort ------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaderFigures:
    """Everything the scoring layer lets out for one leader, with their place in the cohort."""

    scores: LeaderScores
    others: dict[str, float]
    """Shown Others score per dimension (only those that passed the anonymity rules)."""
    self_scores: dict[str, float]
    percentile_cohort: dict[str, float] = field(default_factory=dict)
    percentile_reference: dict[str, float] = field(default_factory=dict)
    agreement: dict[str, AgreementType] = field(default_factory=dict)
    change: dict[str, Change] = field(default_factory=dict)
    previous_cohort: str | None = None
    predictions: dict[str, Prediction] = field(default_factory=dict)
    """The leader's predictions of their Others scores, by dimension, with the actual scores."""

    @property
    def prediction_error(self) -> float | None:
        return mean_absolute_prediction_error(self.predictions)


@dataclass(frozen=True)
class ShownScores:
    """A leader's Others and self score per dimension, where the anonymity rules let them out:
    all that norms and profiles take from a leader."""

    others: dict[str, float]
    self_scores: dict[str, float]


@dataclass(frozen=True)
class Placing(ShownScores):
    """Where one leader stands: everything of :class:`LeaderFigures` except the scores."""

    percentile_cohort: dict[str, float]
    percentile_reference: dict[str, float]
    agreement: dict[str, AgreementType]
    change: dict[str, Change]
    previous_cohort: str | None
    predictions: dict[str, Prediction]


@dataclass(frozen=True)
class CohortFigures(Generic[K]):
    """Per-leader and cohort-level figures of one cohort.

    ``placings`` are computed for every leader at once; each leader's full
    :class:`LeaderFigures` (with all their scores) is built when :attr:`leaders` is asked for
    it, so a cohort of thousands never holds every figure of every leader at the same time.
    """

    scored: Mapping[K, LeaderScores]
    placings: dict[K, Placing]
    reliability: dict[str, Reliability]
    distributions: dict[str, Distribution]
    reference_size: dict[str, int]
    """How many Others scores per dimension the reference norms were taken from."""

    @property
    def leaders(self) -> Mapping[K, LeaderFigures]:
        return _Leaders(self)


class _Leaders(Mapping[K, LeaderFigures]):
    """A cohort's :class:`LeaderFigures` by leader, each built on access."""

    def __init__(self, figures: CohortFigures[K]) -> None:
        self._figures = figures

    def __getitem__(self, key: K) -> LeaderFigures:
        placing = self._figures.placings[key]
        return LeaderFigures(self._figures.scored[key], **vars(placing))

    def __iter__(self) -> Iterator[K]:
        return iter(self._figures.placings)

    def __len__(self) -> int:
        return len(self._figures.placings)


@dataclass(frozen=True)
class Norms(Generic[K]):
    """What a cohort lends the other cohorts on its instrument version, and nothing more.

    Its leaders' shown scores join their reference population (the reference percentile, the
    profiles), and for a leader it assessed before, its spread and reliability are the
    baseline of reliable change (:meth:`baseline`). Its own percentiles and agreement types
    are not worked out: no other cohort's figures use them.
    """

    leaders: dict[K, ShownScores]
    distributions: dict[str, Distribution]
    reliability: dict[str, Reliability]

    def baseline(self, key: K, cohort: str) -> Baseline | None:
        """This cohort's figures for one leader, as the baseline of a later re-assessment."""
        shown = self.leaders.get(key)
        if shown is None or not shown.others:
            return None
        return Baseline(
            cohort=cohort,
            others=dict(shown.others),
            sd={d: dist.sd for d, dist in self.distributions.items()},
            alpha={d: r.alpha for d, r in self.reliability.items()},
        )


def cohort_norms(instrument: Instrument, table: ResponseTable[K], rules: Rules) -> Norms[K]:
    """A cohort scored on its own rules, for the norms and baselines of the others."""
    shown = _shown_scores(score_leaders(instrument, table, rules))
    return Norms(
        leaders=shown,
        distributions=_distributions(instrument, shown)[1],
        reliability=table_reliability(instrument, table, rules.others_minimum),
    )


def _shown_scores(scored: ScoredLeaders[K]) -> dict[K, ShownScores]:
    """Each leader's shown Others and self score per dimension, read straight from the
    scoring arrays: no leader's figures are built for it."""
    others, selves = scored.others_means(), scored.self_means()
    return {key: ShownScores(others[key], selves[key]) for key in others}


def _distributions(
    instrument: Instrument, shown: Mapping[K, ShownScores]
) -> tuple[dict[str, list[float]], dict[str, Distribution]]:
    """Per dimension, the leaders' shown Others scores (sorted) and their distribution."""
    values = {
        d.id: sorted(s.others[d.id] for s in shown.values() if d.id in s.others)
        for d in instrument.dimensions
    }
    return values, {d: Distribution.of(d, v) for d, v in values.items()}


def cohort_figures(
    instrument: Instrument,
    responses: Mapping[K, Sequence[RaterResponse]] | ResponseTable[K],
    rules: Rules | None = None,
    *,
    reference: Mapping[str, Sequence[float]] | None = None,
    baselines: Mapping[K, Baseline] | None = None,
    predictions: Mapping[K, Mapping[str, float]] | None = None,
) -> CohortFigures[K]:
    """Score every leader of a cohort and place each one in it (docs/scoring.md).

    ``responses`` are the cohort's responses by leader (or already as a table).
    ``reference`` holds, per dimension, the shown Others scores of every leader of the other
    cohorts in all data on the same instrument version (their :class:`Norms`); the cohort's own
    leaders are always part of the reference, and without it they are all of it. ``baselines``
    holds, per leader with an earlier cohort on the same instrument, what reliable change
    needs from it (see :meth:`Norms.baseline`). ``predictions`` holds, per leader who made any,
    their predicted Others score per dimension.
    """
    rules = rules or Rules.from_instrument(instrument)
    table = (
        responses
        if isinstance(responses, ResponseTable)
        else ResponseTable.from_responses(instrument, responses)
    )
    return _place_leaders(
        instrument,
        score_leaders(instrument, table, rules),
        table_reliability(instrument, table, rules.others_minimum),
        reference=reference,
        baselines=baselines or {},
        predictions=predictions or {},
    )


def _place_leaders(
    instrument: Instrument,
    scored: ScoredLeaders[K],
    reliability: Mapping[str, Reliability],
    *,
    reference: Mapping[str, Sequence[float]] | None,
    baselines: Mapping[K, Baseline],
    predictions: Mapping[K, Mapping[str, float]],
) -> CohortFigures[K]:
    """Norms, agreement types, reliable change and predictions of leaders just scored."""
    shown = _shown_scores(scored)
    cohort_values, distributions = _distributions(instrument, shown)
    reference_values = {
        d: sorted([*values, *reference[d]]) if reference is not None else values
        for d, values in cohort_values.items()
    }
    placings: dict[K, Placing] = {}
    for key, scores in shown.items():
        mine, self_scores = scores.others, scores.self_scores
        agreement = {}
        for d, value in mine.items():
            distribution = distributions[d]
            if (
                d in self_scores
                and distribution.margin is not None
                and distribution.median is not None
            ):
                agreement[d] = agreement_type(
                    self_scores[d], value, distribution.margin, distribution.median
                )
        baseline = baselines.get(key)
        change = {}
        if baseline is not None:
            for d, value in mine.items():
                if d in baseline.others:
                    found = reliable_change(
                        value, baseline.others[d], baseline.sd.get(d), baseline.alpha.get(d)
                    )
                    if found is not None:
                        change[d] = found
        placings[key] = Placing(
            others=mine,
            self_scores=self_scores,
            percentile_cohort={d: percentile_rank(v, cohort_values[d]) for d, v in mine.items()},
            percentile_reference={
                d: percentile_rank(v, reference_values[d])
                for d, v in mine.items()
                if reference_values[d]
            },
            agreement=agreement,
            change=change,
            previous_cohort=baseline.cohort if baseline else None,
            predictions=predictions_against(predictions.get(key, {}), mine),
        )
    return CohortFigures(
        scored=scored,
        placings=placings,
        reliability=dict(reliability),
        distributions=distributions,
        reference_size={d: len(v) for d, v in reference_values.items()},
    )
