"""Scores for one leader, with PRODUCT §4's anonymity rules enforced here and nowhere else.

Everything that leaves this module has already been through the thresholds: a figure computed
from fewer raters than its group's minimum is never returned, only a :class:`Withheld` note that
says why. Reports, pages and exports can therefore show whatever they are given.

Pure Python: data in, data out. Conventions (PRODUCT §5): reversed items score
``points + 1 - value``; "not able to rate" is missing; a rater counts for a dimension only when
they answered at least half of its items; standard deviations use n - 1; figures needing n >= 2
are absent for n = 1; confidence intervals use the t distribution; nothing is rounded here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from scipy import stats as scipy_stats

from assessment.instruments import OBSERVER_GROUPS, Instrument

SCORING_VERSION = "1.0"
OTHERS = "others"
COMBINED = "peer_direct_report"
DEFAULT_GAP_THRESHOLD = 1.0
DISAGREEMENT_BELOW = 0.7


@dataclass(frozen=True)
class RaterResponse:
    """One submitted questionnaire: raw scale points by item id, ``None`` for "not able to rate"."""

    relationship: str
    answers: Mapping[str, int | None]


@dataclass(frozen=True)
class Stat:
    """A figure over n raters. ``sd`` and the interval are ``None`` when n < 2."""

    n: int
    mean: float
    sd: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rwg: float | None = None

    @property
    def raters_disagree(self) -> bool:
        return self.rwg is not None and self.rwg < DISAGREEMENT_BELOW


@dataclass(frozen=True)
class Withheld:
    """A group, or one figure of a group, that is not shown, and why."""

    group: str
    label: str
    n: int
    minimum: int
    reason: str


@dataclass(frozen=True)
class GroupScores:
    """The figures of one rater group that may be shown; figures below the minimum are absent."""

    key: str
    label: str
    n_raters: int
    minimum: int
    dimensions: dict[str, Stat]
    items: dict[str, Stat]
    withheld_figures: dict[str, Withheld] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemFlag:
    """A blind spot (self above Others) or hidden strength (Others above self)."""

    item_id: str
    self_score: float
    others_mean: float

    @property
    def gap(self) -> float:
        return self.self_score - self.others_mean


@dataclass(frozen=True)
class LeaderScores:
    """Everything the scoring layer lets out for one leader."""

    self_scores: GroupScores | None
    others: GroupScores | None
    groups: list[GroupScores]
    withheld: list[Withheld]
    comments_allowed: bool
    dimension_gaps: dict[str, float]
    item_gaps: dict[str, float]
    blind_spots: list[ItemFlag]
    hidden_strengths: list[ItemFlag]
    response_counts: dict[str, int]

    @property
    def shown(self) -> list[GroupScores]:
        """Others first, then each group shown on its own."""
        return ([self.others] if self.others else []) + self.groups


@dataclass(frozen=True)
class Rules:
    """Anonymity minimums and flag thresholds for a cohort (defaults from its instrument)."""

    group_minimums: Mapping[str, int]
    group_labels: Mapping[str, str]
    others_minimum: int = 3
    comments_minimum: int = 3
    gap_threshold: float = DEFAULT_GAP_THRESHOLD

    @classmethod
    def from_instrument(cls, instrument: Instrument, **overrides: float) -> Rules:
        rules = cls(
            group_minimums={g.id: g.minimum for g in instrument.rater_groups},
            group_labels={g.id: g.label for g in instrument.rater_groups},
            others_minimum=instrument.thresholds.others,
            comments_minimum=instrument.thresholds.comments,
        )
        return replace(rules, **overrides) if overrides else rules

    def minimum(self, group: str) -> int:
        if group == OTHERS:
            return self.others_minimum
        if group == COMBINED:
            return max(self.minimum("peer"), self.minimum("direct_report"))
        return self.group_minimums.get(group, 3)

    def label(self, group: str) -> str:
        if group == OTHERS:
            return "Others"
        if group == COMBINED:
            return f"{self.label('peer')} and {self.label('direct_report')}"
        return self.group_labels.get(group, group.replace("_", " ").capitalize())


# -- per-rater arithmetic ---------------------------------------------------------------


def scored_answers(instrument: Instrument, response: RaterResponse) -> dict[str, float]:
    """Item id -> scored value, for the items this rater actually rated."""
    scored: dict[str, float] = {}
    for item in instrument.items:
        value = response.answers.get(item.id)
        if value is not None:
            scored[item.id] = (
                float(instrument.scale.points + 1 - value) if item.reverse else float(value)
            )
    return scored


def dimension_scores(instrument: Instrument, scored: Mapping[str, float]) -> dict[str, float]:
    """A rater's score per dimension, only where they answered at least half of its items."""
    result: dict[str, float] = {}
    for dimension in instrument.dimensions:
        item_ids = [item.id for item in instrument.items_of(dimension.id)]
        answered = [scored[i] for i in item_ids if i in scored]
        if answered and 2 * len(answered) >= len(item_ids):
            result[dimension.id] = statistics.fmean(answered)
    return result


# -- group arithmetic -------------------------------------------------------------------


def summarise(values: Sequence[float], scale_points: int | None = None) -> Stat:
    """n, mean, SD (n - 1), 95% t interval and r_wg of a list of scores (at least one)."""
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Stat(n=n, mean=mean)
    sd = statistics.stdev(values)
    half_width = float(scipy_stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    rwg = None
    if scale_points is not None:
        expected_variance = (scale_points**2 - 1) / 12
        rwg = max(0.0, 1 - sd**2 / expected_variance)
    return Stat(n=n, mean=mean, sd=sd, ci_low=mean - half_width, ci_high=mean + half_width, rwg=rwg)


@dataclass
class _Rater:
    relationship: str
    items: dict[str, float]
    dimensions: dict[str, float]


def _figures(instrument: Instrument, raters: Sequence[_Rater]) -> dict[str, list[float]]:
    """Raw values per figure key ("dimension:<id>" / "item:<id>") for a set of raters."""
    figures: dict[str, list[float]] = {}
    for dimension in instrument.dimensions:
        figures[f"dimension:{dimension.id}"] = [
            r.dimensions[dimension.id] for r in raters if dimension.id in r.dimensions
        ]
    for item in instrument.items:
        figures[f"item:{item.id}"] = [r.items[item.id] for r in raters if item.id in r.items]
    return figures


def score_leader(
    instrument: Instrument, responses: Iterable[RaterResponse], rules: Rules | None = None
) -> LeaderScores:
    """Score one leader's responses, returning only what the anonymity rules allow."""
    rules = rules or Rules.from_instrument(instrument)
    raters = []
    for response in responses:
        items = scored_answers(instrument, response)
        raters.append(_Rater(response.relationship, items, dimension_scores(instrument, items)))

    counts = dict.fromkeys(("self", *OBSERVER_GROUPS), 0)
    for rater in raters:
        counts[rater.relationship] = counts.get(rater.relationship, 0) + 1
    observers = [r for r in raters if r.relationship != "self"]
    counts[OTHERS] = len(observers)

    self_raters = [r for r in raters if r.relationship == "self"][:1]
    self_scores = _group("self", self_raters, instrument, rules, minimum=1) if self_raters else None

    withheld: list[Withheld] = []
    if len(observers) < rules.others_minimum:
        if observers:
            withheld.append(
                Withheld(
                    OTHERS,
                    rules.label(OTHERS),
                    len(observers),
                    rules.others_minimum,
                    "too few observers responded for any observer scores to be shown",
                )
            )
        return _assemble(instrument, rules, self_scores, None, [], withheld, False, counts)

    candidates = _group_candidates(observers, rules, withheld)
    others_figures = _figures(instrument, observers)
    groups = [_group(key, members, instrument, rules) for key, members in candidates]
    groups = _suppress_complements(others_figures, groups, rules)
    others = _group(OTHERS, observers, instrument, rules)
    comments_allowed = len(observers) >= rules.comments_minimum
    return _assemble(
        instrument, rules, self_scores, others, groups, withheld, comments_allowed, counts
    )


def _group_candidates(
    observers: Sequence[_Rater], rules: Rules, withheld: list[Withheld]
) -> list[tuple[str, list[_Rater]]]:
    """Which observer groups may stand on their own; the others are noted in ``withheld``."""
    members = {g: [r for r in observers if r.relationship == g] for g in OBSERVER_GROUPS}
    shown: list[tuple[str, list[_Rater]]] = []
    below: dict[str, list[_Rater]] = {}
    for group in OBSERVER_GROUPS:
        raters = members[group]
        if not raters:
            continue
        if len(raters) >= rules.minimum(group):
            shown.append((group, raters))
        else:
            below[group] = raters
    combined = below.get("peer", []) + below.get("direct_report", [])
    if "peer" in below and "direct_report" in below and len(combined) >= rules.minimum(COMBINED):
        shown.append((COMBINED, combined))
        del below["peer"], below["direct_report"]
    for group, raters in below.items():
        withheld.append(
            Withheld(
                group,
                rules.label(group),
                len(raters),
                rules.minimum(group),
                f"fewer than {rules.minimum(group)} responded; their answers count in Others only",
            )
        )
    return shown


def _group(
    key: str,
    raters: Sequence[_Rater],
    instrument: Instrument,
    rules: Rules,
    minimum: int | None = None,
) -> GroupScores:
    minimum = rules.minimum(key) if minimum is None else minimum
    dimensions: dict[str, Stat] = {}
    items: dict[str, Stat] = {}
    hidden: dict[str, Withheld] = {}
    points = instrument.scale.points
    for figure, values in _figures(instrument, raters).items():
        kind, _, figure_id = figure.partition(":")
        if len(values) < minimum:
            if values or kind == "dimension":
                hidden[figure] = Withheld(
                    key,
                    rules.label(key),
                    len(values),
                    minimum,
                    f"only {len(values)} of the {rules.label(key)} raters rated this (minimum {minimum})",
                )
            continue
        (dimensions if kind == "dimension" else items)[figure_id] = summarise(values, points)
    return GroupScores(key, rules.label(key), len(raters), minimum, dimensions, items, hidden)


def _suppress_complements(
    others_figures: Mapping[str, list[float]], groups: list[GroupScores], rules: Rules
) -> list[GroupScores]:
    """Hide figures whose withheld remainder could be worked out by subtraction.

    Others includes raters whose own group is too small to show. If Others and every shown
    group are printed, Others' total minus the shown groups' totals is the sum of those hidden
    raters; when fewer than the Others minimum remain hidden that sum exposes them. Withhold the
    smallest shown group's figure until the remainder is zero or large enough.
    """
    by_key = {g.key: g for g in groups}
    for figure, values in others_figures.items():
        kind, _, figure_id = figure.partition(":")
        while shown := [g for g in by_key.values() if figure_id in _figures_of(g, kind)]:
            remainder = len(values) - sum(_figures_of(g, kind)[figure_id].n for g in shown)
            # Too few observers rated this at all: no group may show it (PRODUCT §4).
            too_few_overall = len(values) < rules.others_minimum
            if not too_few_overall and not 0 < remainder < rules.others_minimum:
                break
            smallest = min(shown, key=lambda g: (_figures_of(g, kind)[figure_id].n, g.key))
            stat = _figures_of(smallest, kind).pop(figure_id)
            smallest.withheld_figures[figure] = Withheld(
                smallest.key,
                smallest.label,
                stat.n,
                smallest.minimum,
                "withheld so that the answers of raters in smaller groups cannot be worked out by subtraction",
            )
    return list(by_key.values())


def _figures_of(group: GroupScores, kind: str) -> dict[str, Stat]:
    return group.dimensions if kind == "dimension" else group.items


def _assemble(
    instrument: Instrument,
    rules: Rules,
    self_scores: GroupScores | None,
    others: GroupScores | None,
    groups: list[GroupScores],
    withheld: list[Withheld],
    comments_allowed: bool,
    counts: dict[str, int],
) -> LeaderScores:
    dimension_gaps: dict[str, float] = {}
    item_gaps: dict[str, float] = {}
    blind_spots: list[ItemFlag] = []
    hidden_strengths: list[ItemFlag] = []
    if self_scores and others:
        for dim_id, stat in others.dimensions.items():
            if dim_id in self_scores.dimensions:
                dimension_gaps[dim_id] = self_scores.dimensions[dim_id].mean - stat.mean
        for item in instrument.items:
            mine, theirs = self_scores.items.get(item.id), others.items.get(item.id)
            if mine is None or theirs is None:
                continue
            flag = ItemFlag(item.id, mine.mean, theirs.mean)
            item_gaps[item.id] = flag.gap
            if flag.gap >= rules.gap_threshold:
                blind_spots.append(flag)
            elif -flag.gap >= rules.gap_threshold:
                hidden_strengths.append(flag)
    blind_spots.sort(key=lambda f: -f.gap)
    hidden_strengths.sort(key=lambda f: f.gap)
    return LeaderScores(
        self_scores=self_scores,
        others=others,
        groups=groups,
        withheld=withheld,
        comments_allowed=comments_allowed,
        dimension_gaps=dimension_gaps,
        item_gaps=item_gaps,
        blind_spots=blind_spots,
        hidden_strengths=hidden_strengths,
        response_counts=counts,
    )
