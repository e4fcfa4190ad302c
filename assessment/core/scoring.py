"""Scores for leaders, with the anonymity rules (docs/anonymity.md) enforced here and nowhere else.

Everything that leaves this module has already been through the thresholds: a figure computed
from fewer raters than its group's minimum is never returned, only a :class:`Withheld` note that
says why. Reports, pages and exports can therefore show whatever they are given.

Pure: data in, data out, no Flask and no database. One leader (:func:`score_leader`) or a whole
cohort at once (:func:`score_leaders`, the same rules on NumPy arrays, so ten thousand leaders
take seconds rather than minutes). Conventions (docs/scoring.md): reversed items score
``points + 1 - value``; "not able to rate" is missing; a rater counts for a dimension only when
they answered at least half of its items; standard deviations use n - 1; figures needing n >= 2
are absent for n = 1; confidence intervals use the t distribution; nothing is rounded here.
Thresholds ("at least 1.0 scale point") are compared with a tolerance of :data:`TOLERANCE`, so a
gap that is exactly 1 by hand is not lost to binary rounding (4.3333 - 3.3333 = 0.99999...).

The differencing rule across reports is in :mod:`assessment.core.disclosure`; cohort-level
figures are in :mod:`assessment.core.psychometrics`.
The definitions are written out with their formulas in ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, partial
from itertools import compress
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
from scipy.special import stdtrit

from assessment.core.instruments import OBSERVER_GROUPS, RATER_GROUPS, Instrument

# 1.1: blind spots, hidden strengths and other thresholds compare with TOLERANCE; Withheld
# carries a machine-readable code; cohort figures (psychometrics) and profiles added.
# 1.2: predicted views (the leader's predicted Others scores and the prediction error).
# 1.3: disclosure control inside one report (statement figures withheld where raters skipped
# statements, whole capabilities withheld against subtraction, Others of one small group).
SCORING_VERSION = "1.3"
OTHERS = "others"
COMBINED = "peer_direct_report"
DEFAULT_GAP_THRESHOLD = 1.0
DISAGREEMENT_BELOW = 0.7
TOLERANCE = 1e-9
"""Slack on threshold comparisons: far below any difference a rating scale can produce."""

# Why a group or figure is withheld, as a code an export can carry without any number.
OTHERS_BELOW_MINIMUM = "others_below_minimum"
GROUP_BELOW_MINIMUM = "group_below_minimum"
FIGURE_BELOW_MINIMUM = "figure_below_minimum"
COMPLEMENT = "complement"
PARTIAL_ANSWERS = "partial_answers"
OTHERS_ONE_GROUP = "others_one_group"


@dataclass(frozen=True)
class RaterResponse:
    """One submitted questionnaire: raw scale points by item id, ``None`` for "not able to rate"."""

    relationship: str
    answers: Mapping[str, int | None]


class Stat(NamedTuple):
    """A figure over n raters. ``sd``, the interval and r_wg are ``None`` when n < 2.

    A named tuple rather than a frozen dataclass (like the rest of this module) because a
    cohort export builds millions of them, and a named tuple is built three times faster.
    """

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
    code: str = ""
    """One of the ``*_MINIMUM``, :data:`COMPLEMENT`, :data:`PARTIAL_ANSWERS` or
    :data:`OTHERS_ONE_GROUP` codes: the reason without any number."""


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
    def from_instrument(cls, instrument: Instrument, **overrides: Any) -> Rules:
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


# -- the shape of an instrument ----------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Layout:
    """The shape of an instrument that scoring walks through, worked out once per instrument.

    Figures are numbered dimensions first, then items, each in instrument order.
    """

    points: int
    item_ids: tuple[str, ...]
    reverse: np.ndarray  # (items,) bool: reverse-keyed
    dimension_ids: tuple[str, ...]
    dimension_columns: tuple[np.ndarray, ...]  # item columns of each dimension
    figure_ids: tuple[str, ...]
    figure_keys: tuple[str, ...]  # "dimension:<id>" / "item:<id>"

    @property
    def n_dimensions(self) -> int:
        return len(self.dimension_ids)

    @classmethod
    def of(cls, instrument: Instrument) -> _Layout:
        """The layout of ``instrument``, worked out on its first use and remembered.

        Scoring asks for the layout in every call, and a cohort export scores ten thousand
        leaders one call at a time, so it is memoised by the instrument object's identity (an
        instrument is frozen, so its layout never changes; hashing the whole model would cost
        more than building the layout). The memo holds the instrument itself, so an id is never
        reused while its entry lives; at most 64 instruments are remembered.
        ``tests/test_scoring.py`` checks that this always equals :meth:`build`.
        """
        remembered = _LAYOUTS.get(id(instrument))
        if remembered is not None and remembered[0] is instrument:
            return remembered[1]
        if len(_LAYOUTS) >= 64:
            _LAYOUTS.clear()
        layout = cls.build(instrument)
        _LAYOUTS[id(instrument)] = (instrument, layout)
        return layout

    @classmethod
    def build(cls, instrument: Instrument) -> _Layout:
        """The layout worked out from the instrument (the plain path :meth:`of` remembers)."""
        item_ids = tuple(item.id for item in instrument.items)
        column = {item_id: index for index, item_id in enumerate(item_ids)}
        dimension_ids = tuple(d.id for d in instrument.dimensions)
        return cls(
            points=instrument.scale.points,
            item_ids=item_ids,
            reverse=np.array([item.reverse for item in instrument.items], dtype=bool),
            dimension_ids=dimension_ids,
            dimension_columns=tuple(
                np.array([column[item.id] for item in instrument.items_of(d)], dtype=np.intp)
                for d in dimension_ids
            ),
            figure_ids=dimension_ids + item_ids,
            figure_keys=tuple(f"dimension:{d}" for d in dimension_ids)
            + tuple(f"item:{i}" for i in item_ids),
        )


_LAYOUTS: dict[int, tuple[Instrument, _Layout]] = {}


# -- per-rater arithmetic ---------------------------------------------------------------


def _scored(layout: _Layout, answers: np.ndarray) -> np.ndarray:
    """Raw points (rows of raters, columns of items; NaN = not able to rate) -> item scores:
    reverse-keyed items score ``points + 1 - value``."""
    scored = answers.astype(float, copy=True)
    scored[:, layout.reverse] = layout.points + 1 - scored[:, layout.reverse]
    return scored


def _figure_values(layout: _Layout, scored: np.ndarray) -> np.ndarray:
    """Each rater's value for every figure: dimension scores, then the item scores.

    A rater's dimension score is the mean of their answered items in it, only when they
    answered at least half of them (2 of 4 count, 1 of 4 does not, 1 of 2 does); else NaN.
    """
    values = np.full((scored.shape[0], layout.n_dimensions + scored.shape[1]), np.nan)
    values[:, layout.n_dimensions :] = scored
    for index, columns in enumerate(layout.dimension_columns):
        block = scored[:, columns]
        answered = ~np.isnan(block)
        count = answered.sum(axis=1)
        counts = (count > 0) & (2 * count >= len(columns))
        values[counts, index] = np.where(answered, block, 0.0).sum(axis=1)[counts] / count[counts]
    return values


def scored_matrix(instrument: Instrument, answers: np.ndarray) -> np.ndarray:
    """Item scores of many raters (see :class:`ResponseTable` for the answers' layout)."""
    return _scored(_Layout.of(instrument), answers)


def dimension_scores(instrument: Instrument, scored: Mapping[str, float]) -> dict[str, float]:
    """A rater's score per dimension, only where they answered at least half of its items."""
    layout = _Layout.of(instrument)
    row = np.array([[scored.get(i, math.nan) for i in layout.item_ids]], dtype=float)
    values = _figure_values(layout, row)[0, : layout.n_dimensions]
    return {d: float(v) for d, v in zip(layout.dimension_ids, values, strict=True) if v == v}


def _answer_rows(layout: _Layout, responses: Iterable[RaterResponse]) -> np.ndarray:
    rows = [[r.answers.get(item_id) for item_id in layout.item_ids] for r in responses]
    # dtype=float turns None ("not able to rate") into NaN.
    return np.array(rows, dtype=float).reshape(len(rows), len(layout.item_ids))


# -- many responses as arrays -----------------------------------------------------------

K = TypeVar("K")
_GROUP_CODE = {group: code for code, group in enumerate(RATER_GROUPS)}


@dataclass(frozen=True, eq=False)
class ResponseTable(Generic[K]):
    """The responses of many leaders as arrays, one row per response: what scoring works on.

    ``answers`` holds raw scale points in the instrument's item order, NaN for "not able to
    rate"; ``relationship`` indexes :data:`~assessment.core.instruments.RATER_GROUPS` (self is 0);
    ``leader`` indexes ``keys``, the caller's leader keys. Of several self-assessments of one
    leader only the first row counts, so the order of rows must not depend on who answered
    when (the database reads them in response-id order, a random value).
    """

    keys: list[K]
    leader: np.ndarray
    relationship: np.ndarray
    answers: np.ndarray

    @classmethod
    def from_responses(
        cls, instrument: Instrument, responses_by_leader: Mapping[K, Iterable[RaterResponse]]
    ) -> ResponseTable[K]:
        layout = _Layout.of(instrument)
        keys: list[K] = []
        leader: list[int] = []
        relationship: list[int] = []
        responses: list[RaterResponse] = []
        for position, (key, given) in enumerate(responses_by_leader.items()):
            keys.append(key)
            for response in given:
                code = _GROUP_CODE.get(response.relationship)
                if code is None:
                    raise ValueError(f"unknown relationship {response.relationship!r}")
                leader.append(position)
                relationship.append(code)
                responses.append(response)
        return cls(
            keys,
            np.array(leader, dtype=np.intp),
            np.array(relationship, dtype=np.intp),
            _answer_rows(layout, responses),
        )


# -- group arithmetic -------------------------------------------------------------------


@cache
def t_quantile(degrees_of_freedom: int) -> float:
    """The two-sided 95% quantile of Student's t (what ``scipy.stats.t.ppf(0.975, df)`` gives,
    without importing all of ``scipy.stats``); cached because each call costs ~100 µs."""
    return float(stdtrit(degrees_of_freedom, 0.975))


_new_stat = partial(tuple.__new__, Stat)
"""Builds a :class:`Stat` from a 6-tuple at C speed: what ``Stat(*values)`` gives, minus a Python
frame per figure (a cohort export builds millions). ``tests/test_scoring.py`` checks the two
agree."""


@dataclass(eq=False)
class _Pool:
    """Every figure of one kind of rater pool (a group, Others, self) for every leader at once.

    Arrays are (leaders, figures); where n < 2 the spread, interval and r_wg are NaN.
    """

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rwg: np.ndarray

    @classmethod
    def of(
        cls, values: np.ndarray, leader: np.ndarray, n_leaders: int, scale_points: int | None
    ) -> _Pool:
        """Per-leader n, mean, SD (n - 1), 95% t interval and r_wg of each column of values.

        Two passes (the spread is summed around the mean), as a hand calculation would.
        """
        present = ~np.isnan(values)
        n = _per_leader(leader, present, n_leaders).astype(np.intp)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = _per_leader(leader, np.where(present, values, 0.0), n_leaders) / n
            deviation = np.where(present, values - mean[leader], 0.0)
            variance = _per_leader(leader, deviation * deviation, n_leaders) / (n - 1)
            variance[n < 2] = np.nan
            sd = np.sqrt(variance)
            quantiles = np.array(
                [np.nan] + [t_quantile(df) for df in range(1, max(n.max(initial=0), 1))]
            )
            half_width = quantiles[np.maximum(n - 1, 0)] * sd / np.sqrt(n)
        if scale_points is None:
            rwg = np.full(n.shape, np.nan)
        else:
            # r_wg = 1 - observed variance / variance of a uniform "no agreement" null, floored at 0.
            rwg = np.maximum(0.0, 1 - variance / ((scale_points**2 - 1) / 12))
        return cls(n, mean, sd, mean - half_width, mean + half_width, rwg)

    @cached_property
    def _stacked(self) -> np.ndarray:
        """(leaders, 5, figures): mean, SD, interval bounds and r_wg side by side."""
        return np.stack([self.mean, self.sd, self.ci_low, self.ci_high, self.rwg], axis=1)

    def figures(self, leader: int) -> list[list[Any]]:
        """One leader's mean, SD, interval bounds and r_wg per figure, as plain lists; the
        four that need n >= 2 are None below that."""
        values: list[list[Any]] = self._stacked[leader].tolist()
        for index in np.flatnonzero(self.n[leader] < 2).tolist():
            for column in values[1:]:
                column[index] = None
        return values

    def stat(self, leader: int, figure: int) -> Stat:
        n = int(self.n[leader, figure])
        if n < 2:
            return Stat(n, float(self.mean[leader, figure]))
        return Stat(
            n,
            float(self.mean[leader, figure]),
            float(self.sd[leader, figure]),
            float(self.ci_low[leader, figure]),
            float(self.ci_high[leader, figure]),
            None if math.isnan(self.rwg[leader, figure]) else float(self.rwg[leader, figure]),
        )


def _per_leader(leader: np.ndarray, values: np.ndarray, n_leaders: int) -> np.ndarray:
    """Column sums of ``values`` per leader: one bincount over the flattened (leader, column)."""
    width = values.shape[1]
    cells = (leader[:, None] * width + np.arange(width)).ravel()
    sums = np.bincount(cells, weights=values.ravel().astype(float), minlength=n_leaders * width)
    return sums.reshape(n_leaders, width)


def summarise(values: Sequence[float], scale_points: int | None = None) -> Stat:
    """n, mean, SD (n - 1), 95% t interval and r_wg of a list of scores (at least one)."""
    column = np.asarray(values, dtype=float).reshape(-1, 1)
    pool = _Pool.of(column, np.zeros(len(column), dtype=np.intp), 1, scale_points)
    return pool.stat(0, 0)


# -- one leader, or many at once -----------------------------------------------------------


def score_leader(
    instrument: Instrument, responses: Iterable[RaterResponse], rules: Rules | None = None
) -> LeaderScores:
    """Score one leader's responses, returning only what the anonymity rules allow."""
    table = ResponseTable.from_responses(instrument, {0: list(responses)})
    return score_leaders(instrument, table, rules)[0]


def score_leaders(
    instrument: Instrument, table: ResponseTable[K], rules: Rules | None = None
) -> ScoredLeaders[K]:
    """Score many leaders at once; for each exactly what :func:`score_leader` would return.

    The arithmetic runs on whole arrays (a cohort of ten thousand leaders in well under a
    second); the anonymity rules are applied to every leader and figure at once, in the
    same order as the rules are written in ``docs/anonymity.md`` and ``docs/scoring.md``.
    """
    rules = rules or Rules.from_instrument(instrument)
    return ScoredLeaders(_Scoring(instrument, table, rules))


class _Scoring:
    """The figures and anonymity decisions of :func:`score_leaders`, as arrays."""

    def __init__(self, instrument: Instrument, table: ResponseTable[Any], rules: Rules) -> None:
        self.instrument = instrument
        self.table = table
        self.rules = rules
        self.layout = layout = _Layout.of(instrument)
        n_leaders = len(table.keys)
        values = _figure_values(layout, _scored(layout, table.answers))
        relationship = table.relationship
        leader = table.leader
        self.counts = np.bincount(
            leader * len(RATER_GROUPS) + relationship, minlength=n_leaders * len(RATER_GROUPS)
        ).reshape(n_leaders, len(RATER_GROUPS))
        self.observers = self.counts[:, 1:].sum(axis=1)
        self.combined_count = (
            self.counts[:, _GROUP_CODE["peer"]] + self.counts[:, _GROUP_CODE["direct_report"]]
        )
        self.others_shown = self.observers >= rules.others_minimum
        # Only the first self-assessment of a leader counts.
        self_rows = np.flatnonzero(relationship == _GROUP_CODE["self"])
        _, first = np.unique(leader[self_rows], return_index=True)
        rows = {
            "self": self_rows[first],
            OTHERS: np.flatnonzero(relationship != _GROUP_CODE["self"]),
            COMBINED: np.flatnonzero(
                (relationship == _GROUP_CODE["peer"])
                | (relationship == _GROUP_CODE["direct_report"])
            ),
        } | {g: np.flatnonzero(relationship == _GROUP_CODE[g]) for g in OBSERVER_GROUPS}
        points = layout.points
        self.pools = {
            key: _Pool.of(values[found], leader[found], n_leaders, points)
            for key, found in rows.items()
        }
        self._decide(~np.isnan(values[:, layout.n_dimensions :]))

    def _group_count(self, group: str) -> np.ndarray:
        """Raters per leader in an observer group (or in peers and direct reports together)."""
        if group == COMBINED:
            return self.combined_count
        return self.counts[:, _GROUP_CODE[group]]

    def _decide(self, answered: np.ndarray) -> None:
        """Which groups and figures may be shown (docs/anonymity.md), as boolean arrays.

        ``shown[group]`` is per leader, ``figure_shown`` / ``below`` / ``complement`` /
        ``partial`` per leader and figure; a group is a candidate only when Others itself may
        be shown. ``answered`` says which items each response row answered.
        """
        rules = self.rules
        self.one_group = self._others_of_one_hidden_group()
        self.others_shown = self.others_shown & ~self.one_group
        is_dimension = np.arange(len(self.layout.figure_ids)) < self.layout.n_dimensions
        self.shown: dict[str, np.ndarray] = {}
        self.below_group: dict[str, np.ndarray] = {}
        for group in OBSERVER_GROUPS:
            count = self._group_count(group)
            self.shown[group] = self.others_shown & (count >= rules.minimum(group))
            self.below_group[group] = (
                self.others_shown & (count > 0) & (count < rules.minimum(group))
            )
        self.shown[COMBINED] = (
            self.below_group["peer"]
            & self.below_group["direct_report"]
            & (self._group_count(COMBINED) >= rules.minimum(COMBINED))
        )
        for group in ("peer", "direct_report"):
            self.below_group[group] &= ~self.shown[COMBINED]
        self.shown[OTHERS] = self.others_shown
        self.shown["self"] = self.counts[:, _GROUP_CODE["self"]] > 0
        self.figure_shown: dict[str, np.ndarray] = {}
        self.below: dict[str, np.ndarray] = {}
        self.complement: dict[str, np.ndarray] = {}
        for key, pool in self.pools.items():
            minimum = 1 if key == "self" else rules.minimum(key)
            group_shown = self.shown[key][:, None]
            self.figure_shown[key] = group_shown & (pool.n >= minimum)
            self.below[key] = group_shown & (pool.n < minimum) & ((pool.n > 0) | is_dimension)
            self.complement[key] = np.zeros_like(pool.n, dtype=bool)
        self._suppress_complements()
        self.partial: dict[str, np.ndarray] = {
            key: np.zeros_like(pool.n, dtype=bool) for key, pool in self.pools.items()
        }
        self._suppress_partial_patterns(answered)
        self.any_withheld: dict[tuple[str, str], list[bool]] = {
            (code, key): np.logical_or.reduce(withheld[key], axis=1).tolist()
            for code, withheld in (
                (FIGURE_BELOW_MINIMUM, self.below),
                (COMPLEMENT, self.complement),
                (PARTIAL_ANSWERS, self.partial),
            )
            for key in self.pools
        }

    def _others_of_one_hidden_group(self) -> np.ndarray:
        """Leaders whose observers all come from one group, too few to be shown as that group:
        Others would be that group in all but name, so it is withheld too."""
        rules = self.rules
        groups_present = (self.counts[:, 1:] > 0).sum(axis=1)
        below_own: np.ndarray = np.zeros_like(self.others_shown)
        for group in OBSERVER_GROUPS:
            count = self._group_count(group)
            below_own |= (count > 0) & (count < rules.minimum(group))
        alone: np.ndarray = self.others_shown & (groups_present == 1) & below_own
        return alone

    def _suppress_partial_patterns(self, answered: np.ndarray) -> None:
        """Withhold statement figures that, with a capability's figure, isolate someone.

        A capability's figure averages each rater's own mean of the statements they answered;
        a statement's figure sums the answers to it. When raters skip different statements the
        two weigh people differently, and a reader who combines them can work out one rater's
        capability score, or one answer, by subtraction. The rule (docs/anonymity.md, "Inside
        one disclosure") looks at each capability's *atoms*: every group shown on its own (or
        the combined peers and direct reports) and the rest, counted in Others only. In an atom,
        call *complete* the raters who answered every statement of the capability and
        *partial* those who answered some. Then, with m the atom's minimum:

        * no partial raters, or at least m partial and at least m complete: every statement
          figure may be shown (a difference then always mixes at least m people);
        * otherwise, if some statement was answered by at least m of the atom's counted raters:
          the one most of them answered is withheld, in the atom's group and in Others (a
          combination that uses the capability figure then always includes all of them);
        * otherwise every statement figure of the capability that includes this atom is withheld.

        A group configured to a minimum of 1 (a manager) shown on its own needs no protection.
        Its raters counted in the rest may still be known from their own figures: they count as
        partial when they skipped, but never among the m raters that keep the others safe.
        """
        table, layout = self.table, self.layout
        observer = np.flatnonzero(table.relationship != _GROUP_CODE["self"])
        if not len(observer):
            return
        n_leaders = len(table.keys)
        leader = table.leader[observer]
        relationship = table.relationship[observer]
        groups = (*OBSERVER_GROUPS, COMBINED)
        rest = len(groups)  # the atom of raters counted in Others only for this capability
        kind = {
            group: np.isin(relationship, [_GROUP_CODE[g] for g in _members(group)])
            for group in groups
        }
        protected = np.isin(
            relationship,
            [_GROUP_CODE[g] for g in OBSERVER_GROUPS if self.rules.minimum(g) > 1],
        )
        split = layout.n_dimensions
        for index, columns in enumerate(layout.dimension_columns):
            # A group forms its own atom where its capability figure is shown; the rest are
            # known only through Others (and through statement figures a group may show).
            atom = np.full(len(observer), rest)
            on_own = {group: self.figure_shown[group][:, index] for group in groups}
            for position, group in enumerate(groups):
                atom[on_own[group][leader] & kind[group]] = position
            minimum = self._atom_minimums(leader, relationship, atom)
            cell = leader * (rest + 1) + atom

            def per_atom(flags: np.ndarray, cell: np.ndarray = cell) -> np.ndarray:
                counted = np.bincount(cell, weights=flags, minlength=n_leaders * (rest + 1))
                return counted.reshape(n_leaders, rest + 1)

            block = answered[observer][:, columns]
            count = block.sum(axis=1)
            complete, counted = count == len(columns), (count > 0) & (2 * count >= len(columns))
            partial = (count > 0) & ~complete
            # Raters of a group with a minimum of 1 may be known from their own figures: they
            # count as partial, but never towards the raters that keep others safe.
            n_complete = per_atom(complete & protected)
            free = (per_atom(partial) == 0) | (
                (per_atom(partial & protected) >= minimum) & (n_complete >= minimum)
            )
            free |= minimum <= 1  # a manager shown on their own needs no protection
            # Per atom, the statement most of its counted raters answered (ties: the first);
            # one statement for every atom when one will do, so Others loses only that one.
            by_item = np.stack(
                [per_atom(counted & protected & block[:, j]) for j in range(len(columns))],
                axis=2,
            )
            enough = (by_item >= minimum[..., None]) | free[..., None]
            common = enough.all(axis=1)
            shared = np.argmax(np.where(common, by_item.sum(axis=1), -1), axis=1)
            chosen = np.where(common.any(axis=1)[:, None], shared[:, None], by_item.argmax(axis=2))
            spare = np.take_along_axis(by_item, chosen[..., None], 2)[..., 0] >= minimum
            one_item, every_item = ~free & spare, ~free & ~spare
            withhold = np.zeros((n_leaders, rest + 1, len(columns)), dtype=bool)
            withhold[every_item] = True
            atoms_one = np.argwhere(one_item)
            withhold[atoms_one[:, 0], atoms_one[:, 1], chosen[one_item]] = True
            withhold &= self.others_shown[:, None, None]
            if not withhold.any():
                continue
            from_rest = withhold[:, rest]
            figure_columns = split + columns
            for key in self.pools:
                if key == "self":
                    continue
                if key == OTHERS:
                    hidden = withhold.any(axis=1)
                else:
                    # A group's statement figures hold its atom, or its raters in the rest.
                    own = withhold[:, groups.index(key)]
                    hidden = own | (from_rest & ~on_own[key][:, None])
                dropped = hidden & self.figure_shown[key][:, figure_columns]
                self.figure_shown[key][:, figure_columns] &= ~hidden
                self.partial[key][:, figure_columns] |= dropped

    def _atom_minimums(
        self, leader: np.ndarray, relationship: np.ndarray, atom: np.ndarray
    ) -> np.ndarray:
        """(leaders, atoms): the fewest raters of each atom whose pooled answers may be known
        (:func:`exposure_minimum`: a group's own minimum, and at least the Others minimum)."""
        rules = self.rules
        groups = (*OBSERVER_GROUPS, COMBINED)
        n_leaders = len(self.table.keys)
        minimums = np.empty((n_leaders, len(groups) + 1), dtype=float)
        for index, group in enumerate(groups):
            members = ("peer", "direct_report") if group == COMBINED else (group,)
            minimums[:, index] = (
                rules.minimum(group)
                if rules.minimum(group) <= 1
                else exposure_minimum(members, rules)
            )
        # The rest mixes relationships (the Others minimum) unless it holds only one.
        rest = atom == len(groups)
        kinds = np.zeros(n_leaders, dtype=np.intp)
        single = np.full(n_leaders, float(rules.others_minimum))
        for group in OBSERVER_GROUPS:
            present = (
                np.bincount(
                    leader[rest & (relationship == _GROUP_CODE[group])], minlength=n_leaders
                )
                > 0
            )
            kinds += present
            single = np.where(present, exposure_minimum([group], rules), single)
        minimums[:, -1] = np.where(kinds == 1, single, rules.others_minimum)
        return minimums

    def _suppress_complements(self) -> None:
        """Hide figures whose withheld remainder could be worked out by subtraction.

        Others includes raters whose own group is too small to show. If Others and every shown
        group are printed, Others' total minus the shown groups' totals is the sum of those
        hidden raters; when that remainder is smaller than :func:`exposure_minimum` allows, it
        exposes them. Withhold the smallest shown group's figures of that capability (ties: the
        group key first in alphabetical order; :meth:`_whole_blocks` says why the whole
        capability) until the remainder is zero or large enough. Others whose raters are all of
        one group too small to be shown is withheld too. Too few observers for a figure at all:
        no group may show it.
        """
        rules = self.rules
        candidates = [*OBSERVER_GROUPS, COMBINED]
        rank = {group: position for position, group in enumerate(sorted(candidates))}
        others_n = self.pools[OTHERS].n
        too_few = others_n < rules.others_minimum
        single = {g: max(rules.others_minimum, rules.minimum(g)) for g in OBSERVER_GROUPS}
        for _ in range(len(candidates) + 1):
            shown = {g: self.figure_shown[g] for g in candidates}
            remainder = others_n - sum(np.where(shown[g], self.pools[g].n, 0) for g in candidates)
            hidden_kinds = np.zeros_like(others_n)
            single_minimum = np.zeros_like(others_n)
            for group in OBSERVER_GROUPS:
                covered = shown[group] | (
                    shown[COMBINED] if group in ("peer", "direct_report") else False
                )
                hidden = (self.pools[group].n > 0) & ~covered
                hidden_kinds += hidden
                single_minimum += np.where(hidden, single[group], 0)
            minimum = np.where(hidden_kinds == 1, single_minimum, rules.others_minimum)
            safe = ~too_few & ((remainder == 0) | (remainder >= minimum))
            any_shown = np.logical_or.reduce([shown[g] for g in candidates])
            # Others made of one hidden group too small for it to be shown: Others would be
            # that group in all but name.
            alone = ~safe & ~any_shown & ~too_few & self.figure_shown[OTHERS]
            self.figure_shown[OTHERS] &= ~alone
            self.complement[OTHERS] |= alone
            need = any_shown & ~safe
            if not need.any():
                return
            order = np.stack(
                [
                    np.where(shown[g], self.pools[g].n * 8 + rank[g], np.iinfo(np.intp).max)
                    for g in candidates
                ]
            )
            smallest = np.argmin(order, axis=0)
            for index, group in enumerate(candidates):
                drop = need & (smallest == index)
                drop = self._whole_blocks(drop) & self.figure_shown[group]
                self.figure_shown[group] = self.figure_shown[group] & ~drop
                self.complement[group] = self.complement[group] | drop

    def _whole_blocks(self, figures: np.ndarray) -> np.ndarray:
        """Widen (leaders, figures) flags to whole capabilities: a capability figure with all
        of its statement figures. A group's capability figure averages what its raters answered
        of the statements, so with the figures left standing a withheld one can often be
        worked out again (a manager's statement from their capability score and their other
        statements); withholding one therefore withholds all."""
        layout = self.layout
        widened: np.ndarray = figures.copy()
        for index, columns in enumerate(layout.dimension_columns):
            block = np.concatenate([[index], layout.n_dimensions + columns])
            widened[:, block] |= np.logical_or.reduce(figures[:, block], axis=1)[:, None]
        return widened

    # -- back to plain data ---------------------------------------------------------------
    def dimension_means(self, key: str) -> list[dict[str, float]]:
        """Per leader, the pool's shown dimension scores ("self" or Others), straight from the
        arrays: what norms, agreement types and profiles need, without building every figure."""
        split = self.layout.n_dimensions
        means = self.pools[key].mean[:, :split].tolist()
        shown = self.figure_shown[key][:, :split].tolist()
        ids = self.layout.dimension_ids
        return [
            dict(compress(zip(ids, row, strict=True), flags))
            for row, flags in zip(means, shown, strict=True)
        ]

    def leader(self, position: int) -> LeaderScores:
        """Everything the rules let out for the leader at ``position`` of the table."""
        rules = self.rules
        counts = dict(zip(RATER_GROUPS, self.counts[position].tolist(), strict=True))
        counts[OTHERS] = int(self.observers[position])
        self_scores = None
        if self.shown["self"][position]:
            self_scores = self._group("self", 1, 1, position)
        withheld: list[Withheld] = []
        if not self.others_shown[position]:
            if self.one_group[position]:
                (group,) = (g for g in OBSERVER_GROUPS if counts[g])
                withheld.append(
                    Withheld(
                        OTHERS,
                        rules.label(OTHERS),
                        counts[OTHERS],
                        rules.minimum(group),
                        f"every observer is one of the {rules.label(group)}, fewer than the "
                        f"{rules.minimum(group)} that group needs, so no observer scores can be "
                        "shown",
                        OTHERS_ONE_GROUP,
                    )
                )
            elif counts[OTHERS]:
                withheld.append(
                    Withheld(
                        OTHERS,
                        rules.label(OTHERS),
                        counts[OTHERS],
                        rules.others_minimum,
                        "too few observers responded for any observer scores to be shown",
                        OTHERS_BELOW_MINIMUM,
                    )
                )
            return _assemble(self.instrument, rules, self_scores, None, [], withheld, False, counts)
        groups = [
            self._group(
                group, int(self._group_count(group)[position]), rules.minimum(group), position
            )
            for group in (*OBSERVER_GROUPS, COMBINED)
            if self.shown[group][position]
        ]
        for group in OBSERVER_GROUPS:
            if self.below_group[group][position]:
                minimum = rules.minimum(group)
                withheld.append(
                    Withheld(
                        group,
                        rules.label(group),
                        counts[group],
                        minimum,
                        f"fewer than {minimum} responded; their answers count in Others only",
                        GROUP_BELOW_MINIMUM,
                    )
                )
        others = self._group(OTHERS, counts[OTHERS], rules.others_minimum, position)
        comments_allowed = counts[OTHERS] >= rules.comments_minimum
        return _assemble(
            self.instrument, rules, self_scores, others, groups, withheld, comments_allowed, counts
        )

    def _group(self, key: str, n_raters: int, minimum: int, position: int) -> GroupScores:
        pool = self.pools[key]
        n = pool.n[position].tolist()
        # One array per figure column, None where a figure has no spread (n < 2).
        mean, sd, low, high, rwg = pool.figures(position)
        shown = self.figure_shown[key][position].tolist()
        layout = self.layout
        split = layout.n_dimensions
        stats = list(map(_new_stat, zip(n, mean, sd, low, high, rwg, strict=True)))
        dimensions = dict(compress(zip(layout.dimension_ids, stats[:split], strict=True), shown))
        items = dict(compress(zip(layout.item_ids, stats[split:], strict=True), shown[split:]))
        hidden: dict[str, Withheld] = {}
        label = self.rules.label(key)
        for code, withheld in (
            (FIGURE_BELOW_MINIMUM, self.below),
            (COMPLEMENT, self.complement),
            (PARTIAL_ANSWERS, self.partial),
        ):
            if not self.any_withheld[code, key][position]:
                continue
            for index in np.flatnonzero(withheld[key][position]).tolist():
                reason = (
                    f"only {n[index]} of the {label} raters rated this (minimum {minimum})"
                    if code == FIGURE_BELOW_MINIMUM
                    else "withheld so that the answers of raters in smaller groups cannot be "
                    "worked out by subtraction"
                    if code == COMPLEMENT
                    else "withheld because some raters skipped statements of this capability: "
                    "this figure and the capability's could otherwise be combined to work out "
                    "one person's answers"
                )
                hidden[layout.figure_keys[index]] = Withheld(
                    key, label, n[index], minimum, reason, code
                )
        return GroupScores(key, label, n_raters, minimum, dimensions, items, hidden)


class ScoredLeaders(Mapping[K, LeaderScores]):
    """The scores of many leaders, each :class:`LeaderScores` built when it is asked for.

    A cohort of ten thousand leaders holds nearly two million figures; building them one
    leader at a time (and letting each go once written) keeps memory flat. Asking twice for
    a leader builds two equal objects.
    """

    def __init__(self, scoring: _Scoring) -> None:
        self._scoring = scoring
        self._position = {key: index for index, key in enumerate(scoring.table.keys)}

    def __getitem__(self, key: K) -> LeaderScores:
        return self._scoring.leader(self._position[key])

    def __iter__(self) -> Iterator[K]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)

    def others_means(self) -> dict[K, dict[str, float]]:
        """Each leader's shown Others score per dimension (what ``scores.others`` holds)."""
        return dict(zip(self._position, self._scoring.dimension_means(OTHERS), strict=True))

    def self_means(self) -> dict[K, dict[str, float]]:
        """Each leader's self score per dimension (what ``scores.self_scores`` holds)."""
        return dict(zip(self._position, self._scoring.dimension_means("self"), strict=True))


def exposure_minimum(relationships: Iterable[str], rules: Rules) -> int:
    """The fewest raters whose pooled answers may be worked out (by subtraction or otherwise).

    A pool mixing relationships is as safe as Others of that size, so it needs the Others
    minimum. A pool of one relationship is that group shown in all but name, so it also needs
    the group's own minimum when that is higher (peers configured to 5 must not be exposed as
    3 peers just because Others accepts 3).
    """
    kinds = set(relationships)
    if len(kinds) == 1:
        return max(rules.others_minimum, rules.minimum(next(iter(kinds))))
    return rules.others_minimum


def _members(group_key: str) -> tuple[str, ...]:
    """The relationships whose raters a shown group's figures pool."""
    if group_key == OTHERS:
        return OBSERVER_GROUPS
    if group_key == COMBINED:
        return ("peer", "direct_report")
    return (group_key,)


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
        threshold = rules.gap_threshold - TOLERANCE
        for item_id in _Layout.of(instrument).item_ids:
            mine, theirs = self_scores.items.get(item_id), others.items.get(item_id)
            if mine is None or theirs is None:
                continue
            gap = item_gaps[item_id] = mine.mean - theirs.mean  # what ItemFlag.gap gives
            if gap >= threshold:
                blind_spots.append(ItemFlag(item_id, mine.mean, theirs.mean))
            elif -gap >= threshold:
                hidden_strengths.append(ItemFlag(item_id, mine.mean, theirs.mean))
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


Pools = dict[str, list[tuple[frozenset[str], int]]]
"""Figure key -> (response ids, group minimum) of every rater pool a report prints."""


def printed_pools(
    instrument: Instrument, report: Mapping[str, RaterResponse], rules: Rules
) -> Pools:
    """The raters behind each observer figure one report prints, with the group's minimum.

    Keyed by figure (``dimension:<id>`` or ``item:<id>``); what the disclosure rules in
    :mod:`assessment.core.disclosure` compare across reports.
    """
    layout = _Layout.of(instrument)
    scores = score_leader(instrument, report.values(), rules)
    ids = list(report)
    relationships = [response.relationship for response in report.values()]
    rated = ~np.isnan(
        _figure_values(layout, _scored(layout, _answer_rows(layout, report.values())))
    )
    pools: Pools = {}
    for group in scores.shown:
        members = _members(group.key)
        for column, figure_id in enumerate(layout.figure_ids):
            stats = group.dimensions if column < layout.n_dimensions else group.items
            if figure_id not in stats:
                continue
            pool = frozenset(
                ids[row]
                for row in np.flatnonzero(rated[:, column])
                if relationships[row] in members
            )
            pools.setdefault(layout.figure_keys[column], []).append(
                (pool, rules.minimum(group.key))
            )
    return pools
