"""Build the display-ready data of one leader's individual development report (docs/reports.md).

The scoring layer has already removed every figure the anonymity rules forbid (docs/anonymity.md), so
this module never looks at raw answers and never recomputes a score: it selects, labels, orders
and rounds what it is given, and where a figure is absent it carries the reason along so the
report can say why instead of leaving a hole. Everything returned is plain frozen dataclasses
of strings and numbers; templates only print them.

Numbers keep full precision in the ``value`` fields (charts place markers with them) and are
rounded to two decimals only in the string fields the tables print.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from assessment.core.instruments import Instrument, Item
from assessment.core.planning import PLANNING_QUESTIONS, PlanningQuestion
from assessment.core.scoring import (
    COMBINED,
    DISAGREEMENT_BELOW,
    OTHERS,
    SCORING_VERSION,
    GroupScores,
    ItemFlag,
    LeaderScores,
    Rules,
    Stat,
)

if TYPE_CHECKING:  # only types: building a report must not import scikit-learn
    from assessment.core.profiles import Assignment, ProfileModel
    from assessment.core.psychometrics import Change, LeaderFigures

REPORT_TITLE = "Individual development report"
RANKED_ITEMS = 5
MINUS = "\u2212"
EN_DASH = "\u2013"

# -- the data a report prints ---------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One column of figures: the leader's self-rating, Others, or a group shown on its own."""

    key: str
    label: str
    n_raters: int
    kind: str  # "self", "others" or "group"


@dataclass(frozen=True)
class Figure:
    """One series' score for a dimension or an item; ``value`` is ``None`` when it is absent."""

    series: str
    label: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    mean: str = ""
    n: int | None = None
    ci: str | None = None
    sd: str | None = None
    rwg: str | None = None
    raters_disagree: bool = False
    note: str | None = None  # why there is no value

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class FlaggedItem:
    """A blind spot (self above Others) or a hidden strength (Others above self)."""

    number: int
    text: str
    dimension: str
    self_score: str
    others_mean: str
    gap: str
    asked: str | None = None  # as for :class:`ItemRow`


@dataclass(frozen=True)
class ItemRow:
    number: int
    id: str
    text: str
    self_figure: Figure
    others: Figure
    gap: str | None
    flag: str | None  # "Blind spot", "Hidden strength" or None
    reverse: bool  # negatively worded: scores are reversed so that higher is still better
    asked: str | None = None  # the statement as asked, when ``text`` restates it positively


@dataclass(frozen=True)
class DimensionSection:
    number: int
    id: str
    name: str
    description: str
    figures: list[Figure]  # one per report series, in the same order
    gap: str | None
    agreement: str | None
    items: list[ItemRow]
    blind_spots: list[FlaggedItem]
    hidden_strengths: list[FlaggedItem]
    notes: list[str]  # why figures on this page are absent

    def figure(self, series_key: str) -> Figure | None:
        return next((f for f in self.figures if f.series == series_key), None)


@dataclass(frozen=True)
class RankedItem:
    text: str
    dimension: str
    value: float
    mean: str
    ci: str | None
    n: int
    self_score: str | None
    reverse: bool
    asked: str | None = None  # as for :class:`ItemRow`


@dataclass(frozen=True)
class WithheldNote:
    label: str
    n: int
    minimum: int
    reason: str


@dataclass(frozen=True)
class GroupMinimum:
    label: str
    minimum: int


@dataclass(frozen=True)
class AnonymityRules:
    group_minimums: list[GroupMinimum]
    others_minimum: int
    comments_minimum: int
    combined_label: str | None
    manager_not_anonymous: bool


@dataclass(frozen=True)
class CountRow:
    label: str
    responses: int
    shown_as: str


@dataclass(frozen=True)
class ScalePoint:
    value: int
    label: str


# -- where the leader stands in the cohort (docs/scoring.md) -------------------------------------


@dataclass(frozen=True)
class CohortPlacement:
    """What the cohort-level modules say about one leader: the input of the "pattern" section.

    Plain output of :mod:`assessment.core.psychometrics` and :mod:`assessment.core.profiles`, gathered by
    :mod:`assessment.reporting`; every field may be empty and the report then says why.
    """

    figures: LeaderFigures | None = None
    cohort_leaders: Mapping[str, int] = field(default_factory=dict)
    """Leaders of this cohort with an Others score shown, per dimension (the percentile's N)."""
    reference_leaders: Mapping[str, int] = field(default_factory=dict)
    """The same over all data on the instrument version (the reference percentile's N)."""
    profile: Assignment | None = None
    profile_model: ProfileModel | None = None
    profile_unavailable: str | None = None
    """Why there are no profiles at all (for example too few leaders to fit them honestly)."""


@dataclass(frozen=True)
class StandingRow:
    dimension: str
    self_score: str | None
    others: str | None
    agreement: str | None  # "Over-estimator", ...
    meaning: str | None
    percentile: str | None  # "62nd"
    cohort_n: int
    reference_percentile: str | None
    reference_n: int
    note: str | None  # why the agreement type or percentile is absent


@dataclass(frozen=True)
class ChangeRow:
    dimension: str
    before: str
    now: str
    difference: str
    rci: str
    reliable: bool
    verdict: str


@dataclass(frozen=True)
class PredictionRow:
    """One capability of "How well you predicted others' view" (docs/scoring.md, predicted views)."""

    dimension: str
    predicted: str | None  # the scale point the leader chose; None when they did not predict
    others: str | None  # None when no Others score can be shown
    difference: str | None  # prediction minus Others, signed; None without both
    reading: str  # "You expected higher than others rated you", ..., or why nothing is compared


@dataclass(frozen=True)
class PredictedViews:
    """The leader's predictions of their Others scores beside the actual ones, and the error."""

    rows: list[PredictionRow]  # one per capability; empty when the leader predicted nothing
    error: str | None  # mean absolute prediction error, two decimals
    error_reading: str | None  # "Close: under 0.50" or "Not close: 0.50 or more"
    close_below: str  # the error under which a prediction reads as close, "0.50"
    compared: int  # how many capabilities the error is the mean of
    note: str | None  # why there are no predictions, or why none could be compared
    notes: list[str]  # why a capability's prediction is not compared


@dataclass(frozen=True)
class ProfileSummary:
    name: str | None
    probability: str | None
    names: list[str]  # every profile of the model, the leader's among them
    n_leaders: int | None  # the reference population the model was fitted on
    stability: str | None
    note: str | None  # why the leader has no profile


@dataclass(frozen=True)
class Standing:
    available: bool
    note: str | None  # why nothing in this section could be worked out
    rows: list[StandingRow]
    previous_cohort: str | None
    changes: list[ChangeRow]
    change_notes: list[str]
    profile: ProfileSummary
    predictions: PredictedViews


@dataclass(frozen=True)
class Provenance:
    """What every report records about how it was made, in print and in the PDF's metadata."""

    title: str
    instrument_id: str
    instrument_version: int
    instrument_title: str
    language: str
    scoring_version: str
    generated_on: date
    generated_on_display: str

    kind: ClassVar[tuple[str, ...]] = ()

    @property
    def keywords(self) -> list[str]:
        """The PDF's keywords: instrument id and version, scoring version, date (docs/reports.md)."""
        return [
            "360-degree feedback",
            *self.kind,
            f"instrument {self.instrument_id}",
            f"instrument version {self.instrument_version}",
            f"scoring version {self.scoring_version}",
            f"generated {self.generated_on.isoformat()}",
        ]


def provenance(title: str, instrument: Instrument, generated_on: date) -> dict[str, Any]:
    """The :class:`Provenance` fields of a report on ``instrument`` made on ``generated_on``."""
    return {
        "title": title,
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "instrument_title": instrument.title,
        "language": instrument.language,
        "scoring_version": SCORING_VERSION,
        "generated_on": generated_on,
        "generated_on_display": long_date(generated_on),
    }


@dataclass(frozen=True)
class IndividualReport(Provenance):
    """Everything the individual report prints, already selected, labelled and rounded."""

    leader_name: str
    cohort_name: str
    scale_points: int
    scale: list[ScalePoint]
    gap_threshold: str
    series: list[Series]
    dimensions: list[DimensionSection]
    summary_notes: list[str]
    observer_scores_shown: bool
    observers_note: str | None
    self_note: str | None
    strengths: list[RankedItem]
    development_areas: list[RankedItem]
    ranking_note: str | None
    comments: list[str]
    comments_note: str | None
    withheld_groups: list[WithheldNote]
    withheld_figures: list[str]
    rules: AnonymityRules
    manager_note: str | None
    manager_identifiable: bool  # manager scores are printed although their minimum is 1
    response_counts: list[CountRow]
    planning_questions: list[PlanningQuestion]
    has_reversed_items: bool
    standing: Standing

    @property
    def gaps_shown(self) -> bool:
        """Gaps, blind spots and hidden strengths need both a self-rating and Others."""
        return self.observer_scores_shown and self.self_note is None


# -- formatting (display only) ----------------------------------------------------------------


def number(value: float) -> str:
    """A score as the report prints it: two decimals."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def signed(value: float) -> str:
    """A gap as the report prints it: two decimals with an explicit sign (true minus sign)."""
    text = number(value)
    if text == "0.00":
        return text
    return f"{MINUS}{text[1:]}" if text.startswith("-") else f"+{text}"


def interval(stat: Stat) -> str | None:
    if stat.ci_low is None or stat.ci_high is None:
        return None
    return f"{number(stat.ci_low)}{EN_DASH}{number(stat.ci_high)}"


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def long_date(day: date) -> str:
    """'3 October 2025', whatever the process locale (``%B`` would follow it)."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _sentence(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        return reason
    reason = reason[0].upper() + reason[1:]
    return reason if reason.endswith(".") else f"{reason}."


# -- building ----------------------------------------------------------------------------------


def individual_report(
    *,
    instrument: Instrument,
    scores: LeaderScores,
    leader_name: str,
    cohort_name: str,
    comments: Sequence[str],
    generated_on: date,
    rules: Rules | None = None,
    placement: CohortPlacement | None = None,
) -> IndividualReport:
    """The data of one leader's individual development report.

    ``scores`` is what :func:`assessment.core.scoring.score_leader` returned for the leader and
    ``rules`` the rules it was given (the instrument's defaults when ``None``); the rules are only
    described in the report, never applied again. ``comments`` are the leader's pooled open
    comments; they are printed only when ``scores.comments_allowed``, in an order shuffled with a
    seed derived from the leader and cohort names, so a regenerated report is identical and the
    order says nothing about who wrote what or when. ``placement`` carries the cohort-level
    figures (agreement types, percentiles, change, profile); without it the report says that
    they were not available.
    """
    rules = rules or Rules.from_instrument(instrument)
    series = _series(scores)
    shown_keys = {s.key for s in series}
    dimensions = [
        _dimension(number_, dimension.id, instrument, scores, series, leader_name)
        for number_, dimension in enumerate(instrument.dimensions, start=1)
    ]
    strengths, development, ranking_note = _rankings(instrument, scores, leader_name)
    manager_not_anonymous = (
        instrument.group("manager") is not None and rules.minimum("manager") == 1
    )
    manager_shown = "manager" in shown_keys
    return IndividualReport(
        **provenance(REPORT_TITLE, instrument, generated_on),
        leader_name=leader_name,
        cohort_name=cohort_name,
        scale_points=instrument.scale.points,
        scale=[
            ScalePoint(value, label)
            for value, label in enumerate(instrument.scale.anchors, start=1)
        ],
        gap_threshold=number(rules.gap_threshold),
        series=series,
        dimensions=dimensions,
        summary_notes=_summary_notes(scores, series, dimensions),
        observer_scores_shown=scores.others is not None,
        observers_note=_observers_note(scores),
        self_note=None if scores.self_scores else "You did not complete a self-assessment.",
        strengths=strengths,
        development_areas=development,
        ranking_note=ranking_note,
        comments=shuffled_comments(comments, leader_name, cohort_name)
        if scores.comments_allowed
        else [],
        comments_note=_comments_note(scores, rules, comments),
        withheld_groups=[
            WithheldNote(w.label, w.n, w.minimum, _clause(w.reason)) for w in scores.withheld
        ],
        withheld_figures=_withheld_figure_notes(instrument, scores),
        rules=AnonymityRules(
            group_minimums=[
                GroupMinimum(g.label, rules.minimum(g.id)) for g in instrument.observer_groups
            ],
            others_minimum=rules.others_minimum,
            comments_minimum=rules.comments_minimum,
            combined_label=rules.label(COMBINED)
            if instrument.group("peer") and instrument.group("direct_report")
            else None,
            manager_not_anonymous=manager_not_anonymous,
        ),
        manager_note=_manager_note(scores, rules, manager_shown) if manager_not_anonymous else None,
        manager_identifiable=manager_not_anonymous and manager_shown,
        response_counts=_response_counts(instrument, scores, rules),
        planning_questions=list(PLANNING_QUESTIONS),
        has_reversed_items=any(item.reverse for item in instrument.items),
        standing=_standing(instrument, scores, placement),
    )


def _manager_note(scores: LeaderScores, rules: Rules, manager_shown: bool) -> str:
    note = (
        f"The minimum for the {rules.label('manager')} group is set to 1, so your manager's "
        "ratings can be shown on their own: they are not anonymous."
    )
    if scores.response_counts.get("manager", 0) and not manager_shown:
        note += " In this report they are not shown on their own (see below)."
    return note


def shuffled_comments(comments: Sequence[str], leader_name: str, cohort_name: str) -> list[str]:
    """Non-empty comments in a stable pseudo-random order.

    Sorting first makes the order independent of the order the comments arrive in (which could
    follow submission time, and so identify a rater); the seed makes it independent of the run.
    """
    cleaned = sorted(c.strip() for c in comments if c and c.strip())
    seed = hashlib.sha256(f"{leader_name}\x1f{cohort_name}".encode()).digest()
    random.Random(int.from_bytes(seed[:8], "big")).shuffle(cleaned)
    return cleaned


def _series(scores: LeaderScores) -> list[Series]:
    """Columns of the summary: Self, Others, then each group that has a dimension figure.

    A group the scoring layer shows but whose every dimension figure it withheld gets no column
    (a column of blanks helps no one); the summary notes say why it is missing.
    """
    series: list[Series] = []
    if scores.self_scores:
        series.append(Series("self", "Self", 1, "self"))
    if scores.others:
        series.append(Series(OTHERS, scores.others.label, scores.others.n_raters, "others"))
    for group in scores.groups:
        if group.dimensions:
            series.append(Series(group.key, group.label, group.n_raters, "group"))
    return series


def _group_by_key(scores: LeaderScores, key: str) -> GroupScores | None:
    if key == "self":
        return scores.self_scores
    return next((g for g in scores.shown if g.key == key), None)


def _figure(
    series: Series, stat: Stat | None, note: str | None, *, agreement: bool = True
) -> Figure:
    if stat is None:
        return Figure(series.key, series.label, note=note)
    return Figure(
        series=series.key,
        label=series.label,
        value=stat.mean,
        ci_low=stat.ci_low,
        ci_high=stat.ci_high,
        mean=number(stat.mean),
        n=stat.n,
        ci=interval(stat),
        sd=number(stat.sd) if stat.sd is not None else None,
        rwg=number(stat.rwg) if agreement and stat.rwg is not None else None,
        raters_disagree=agreement and stat.raters_disagree,
    )


def _absent_reason(group: GroupScores, kind: str, figure_id: str) -> str:
    withheld = group.withheld_figures.get(f"{kind}:{figure_id}")
    if withheld:
        return _clause(withheld.reason)
    if kind == "item":
        return "no one in this group rated this item."
    return "no one in this group rated enough of this capability's items."


def _self_figure(scores: LeaderScores, kind: str, figure_id: str) -> Figure:
    series = Series("self", "Self", 1, "self")
    mine = scores.self_scores
    if mine is None:
        return _figure(series, None, "You did not complete a self-assessment.")
    stat = (mine.dimensions if kind == "dimension" else mine.items).get(figure_id)
    note = (
        "you did not rate this item."
        if kind == "item"
        else "you rated fewer than half of this capability's items."
    )
    return _figure(series, stat, None if stat else note, agreement=False)


def _observer_figure(scores: LeaderScores, series: Series, kind: str, figure_id: str) -> Figure:
    group = _group_by_key(scores, series.key)
    if group is None:
        return _figure(series, None, _observers_note(scores))
    stat = (group.dimensions if kind == "dimension" else group.items).get(figure_id)
    return _figure(series, stat, None if stat else _absent_reason(group, kind, figure_id))


def _others_series(scores: LeaderScores) -> Series:
    others = scores.others
    return Series(OTHERS, "Others", others.n_raters if others else 0, "others")


def _dimension(
    number_: int,
    dimension_id: str,
    instrument: Instrument,
    scores: LeaderScores,
    series: list[Series],
    leader_name: str,
) -> DimensionSection:
    dimension = next(d for d in instrument.dimensions if d.id == dimension_id)
    figures = [
        _self_figure(scores, "dimension", dimension_id)
        if s.kind == "self"
        else _observer_figure(scores, s, "dimension", dimension_id)
        for s in series
    ]
    items = instrument.items_of(dimension_id)
    numbers = {item.id: index for index, item in enumerate(items, start=1)}
    blind = {f.item_id for f in scores.blind_spots}
    hidden = {f.item_id for f in scores.hidden_strengths}
    others_series = _others_series(scores)
    rows = []
    for item in items:
        gap = scores.item_gaps.get(item.id)
        rows.append(
            ItemRow(
                number=numbers[item.id],
                id=item.id,
                text=item.result_text(leader_name),
                asked=item.asked_text(leader_name),
                self_figure=_self_figure(scores, "item", item.id),
                others=_observer_figure(scores, others_series, "item", item.id),
                gap=signed(gap) if gap is not None else None,
                flag="Blind spot"
                if item.id in blind
                else "Hidden strength"
                if item.id in hidden
                else None,
                reverse=item.reverse,
            )
        )
    others_stat = scores.others.dimensions.get(dimension_id) if scores.others else None
    gap = scores.dimension_gaps.get(dimension_id)
    notes = [f"{f.label} score: {f.note}" for f in figures if f.note]
    notes += [
        f"Item {row.number}, {figure.label}: {figure.note}"
        for row in rows
        for figure in (row.self_figure, row.others)
        if figure.note
        and (figure.series != OTHERS or scores.others)
        and (figure.series != "self" or scores.self_scores)
    ]
    return DimensionSection(
        number=number_,
        id=dimension.id,
        name=dimension.name,
        description=dimension.description,
        figures=figures,
        gap=signed(gap) if gap is not None else None,
        agreement=_agreement(others_stat),
        items=rows,
        blind_spots=_flagged(scores.blind_spots, items, numbers, dimension.name, leader_name),
        hidden_strengths=_flagged(
            scores.hidden_strengths, items, numbers, dimension.name, leader_name
        ),
        notes=notes,
    )


def _agreement(stat: Stat | None) -> str | None:
    if stat is None or stat.rwg is None:
        return None
    if stat.raters_disagree:
        return (
            f"Observers disagree on this capability (agreement {number(stat.rwg)}, below "
            f"{number(DISAGREEMENT_BELOW)}): the average hides different experiences of you."
        )
    return (
        f"Observers broadly agree on this capability (agreement {number(stat.rwg)}; below "
        f"{number(DISAGREEMENT_BELOW)} would mean they disagree)."
    )


def _flagged(
    flags: list[ItemFlag],
    items: list[Item],
    numbers: dict[str, int],
    dimension_name: str,
    leader_name: str,
) -> list[FlaggedItem]:
    by_id = {item.id: item for item in items}
    return [
        FlaggedItem(
            number=numbers[flag.item_id],
            text=by_id[flag.item_id].result_text(leader_name),
            asked=by_id[flag.item_id].asked_text(leader_name),
            dimension=dimension_name,
            self_score=number(flag.self_score),
            others_mean=number(flag.others_mean),
            gap=signed(flag.gap),
        )
        for flag in flags
        if flag.item_id in by_id
    ]


def _rankings(
    instrument: Instrument, scores: LeaderScores, leader_name: str
) -> tuple[list[RankedItem], list[RankedItem], str | None]:
    """Highest and lowest items by Others mean, never overlapping; ties keep instrument order."""
    if scores.others is None:
        return [], [], "Items cannot be ranked because no observer scores can be shown."
    names = {d.id: d.name for d in instrument.dimensions}
    rated: list[RankedItem] = []
    for item in instrument.items:
        stat = scores.others.items.get(item.id)
        if stat is None:
            continue
        mine = scores.self_scores.items.get(item.id) if scores.self_scores else None
        rated.append(
            RankedItem(
                text=item.result_text(leader_name),
                asked=item.asked_text(leader_name),
                dimension=names[item.dimension],
                value=stat.mean,
                mean=number(stat.mean),
                ci=interval(stat),
                n=stat.n,
                self_score=number(mine.mean) if mine else None,
                reverse=item.reverse,
            )
        )
    count = min(RANKED_ITEMS, len(rated) // 2)
    if count == 0:
        return [], [], "Too few items have observer scores to rank them."
    order = sorted(range(len(rated)), key=lambda i: (-rated[i].value, i))
    highest = [rated[i] for i in order[:count]]
    lowest = [rated[i] for i in reversed(order[-count:])]
    return highest, lowest, None


def _observers_note(scores: LeaderScores) -> str | None:
    if scores.others is not None:
        return None
    others = next((w for w in scores.withheld if w.group == OTHERS), None)
    if others:
        return (
            f"{_sentence(others.reason)[:-1]}: {others.n} responded and at least "
            f"{others.minimum} are needed."
        )
    return "No observer responses were received, so there are no observer scores."


def _summary_notes(
    scores: LeaderScores, series: list[Series], dimensions: list[DimensionSection]
) -> list[str]:
    """Why a group has no column, and why a figure in the summary is blank."""
    columns = {s.key for s in series}
    notes: list[str] = []
    for group in scores.groups:
        if group.key in columns:
            continue
        reasons = sorted({w.reason for w in group.withheld_figures.values()})
        reason = f": {_clause(reasons[0])}" if reasons else "."
        notes.append(f"{group.label} is not shown{reason}")
    notes += [f"{f.label}, {d.name}: {f.note}" for d in dimensions for f in d.figures if f.note]
    return notes


def _clause(reason: str) -> str:
    """A reason as the end of a sentence that already started."""
    reason = reason.strip()
    return reason if reason.endswith(".") else f"{reason}."


def _withheld_figure_notes(instrument: Instrument, scores: LeaderScores) -> list[str]:
    """One sentence per shown group and reason, naming the printed figures it withheld.

    Only figures the report would otherwise print are named: dimension scores of every group,
    and item scores of Others.
    """
    names = {d.id: d.name for d in instrument.dimensions}
    notes: list[str] = []
    for group in scores.shown:
        by_reason: dict[str, list[str]] = {}
        for key, withheld in group.withheld_figures.items():
            kind, _, figure_id = key.partition(":")
            if kind == "item" and group.key != OTHERS:
                continue  # the report prints item scores for Others only
            if kind == "dimension":
                what = f"{names.get(figure_id, figure_id)} score"
            else:
                item = instrument.item(figure_id)
                position = [i.id for i in instrument.items_of(item.dimension)].index(item.id) + 1
                what = f"{names.get(item.dimension, item.dimension)} item {position}"
            by_reason.setdefault(withheld.reason, []).append(what)
        nothing_left = not group.dimensions
        for reason, figures in by_reason.items():
            if nothing_left and len(by_reason) == 1:
                listed = "all scores"
            elif len(figures) <= 4:
                listed = ", ".join(figures)
            else:
                listed = f"{len(figures)} scores"
            notes.append(f"{group.label} ({listed}): {_clause(reason)}")
    return notes


def _comments_note(scores: LeaderScores, rules: Rules, comments: Sequence[str]) -> str | None:
    if scores.comments_allowed:
        if not any(c and c.strip() for c in comments):
            return "No one wrote a comment."
        return None
    observers = scores.response_counts.get(OTHERS, 0)
    return (
        f"Comments are shown only when at least {rules.comments_minimum} observers have "
        f"responded, so that no comment can be traced to its author. {observers} "
        f"{'observer' if observers == 1 else 'observers'} responded, so the comments are not "
        "shown."
    )


def _response_counts(instrument: Instrument, scores: LeaderScores, rules: Rules) -> list[CountRow]:
    counts = scores.response_counts
    shown = {g.key for g in scores.groups}
    # The report prints a group's capability scores only (item scores are Others'), so a group
    # whose every capability score was withheld is not "shown on its own" in it.
    with_scores = {g.key for g in scores.groups if g.dimensions}
    withheld = {w.group for w in scores.withheld}
    rows: list[CountRow] = []
    for group in instrument.rater_groups:
        n = counts.get(group.id, 0)
        if group.id == "self":
            status = "Your self-assessment" if n else "Not completed"
        elif n == 0:
            status = "No responses"
        elif scores.others is None:
            status = "Not shown: too few observers overall"
        elif group.id in shown:
            status = (
                "Shown on its own and in Others"
                if group.id in with_scores
                else "Counted in Others; its own scores were withheld"
            )
        elif COMBINED in shown and group.id in ("peer", "direct_report"):
            status = (
                f"Shown as {rules.label(COMBINED)} and in Others"
                if COMBINED in with_scores
                else "Counted in Others; the combined group's scores were withheld"
            )
        elif group.id in withheld:
            status = "Counted in Others only"
        else:
            status = "Counted in Others"
        rows.append(CountRow(group.label, n, status))
    total = counts.get(OTHERS, 0)
    rows.append(
        CountRow(
            "Others (all observers)",
            total,
            "Shown" if scores.others else "Not shown: fewer than the minimum",
        )
    )
    return rows


# -- the leader's pattern: agreement type, percentiles, change, profile --------------------------

AGREEMENT_LABELS = {
    "over-estimator": "Over-estimator",
    "under-estimator": "Under-estimator",
    "in-agreement/high": "In agreement, high",
    "in-agreement/low": "In agreement, low",
}


def ordinal(value: float) -> str:
    """A percentile as the report prints it: '62nd' (rounded half up, display only)."""
    whole = int(value + 0.5)
    suffix = "th" if 10 <= whole % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(whole % 10, "th")
    return f"{whole}{suffix}"


def percent(value: float) -> str:
    return f"{int(value * 100 + 0.5)}%"


def _standing(
    instrument: Instrument, scores: LeaderScores, placement: CohortPlacement | None
) -> Standing:
    figures = placement.figures if placement else None
    rows = [_standing_row(d.id, d.name, scores, placement) for d in instrument.dimensions]
    if placement is None or figures is None:
        note = (
            "Agreement types, percentiles, change since last time and profiles are worked out "
            "from the whole cohort, and those figures were not available for this report."
        )
        changes = [
            "No earlier round could be compared with: the cohort figures were not available."
        ]
        return Standing(
            False,
            note,
            rows,
            None,
            [],
            changes,
            _profile_summary(placement),
            _predicted_views(instrument, scores, None),
        )
    return Standing(
        available=True,
        note=None,
        rows=rows,
        previous_cohort=figures.previous_cohort,
        changes=[
            _change_row(d.name, figures.change[d.id])
            for d in instrument.dimensions
            if d.id in figures.change
        ],
        change_notes=_change_notes(instrument, figures),
        profile=_profile_summary(placement),
        predictions=_predicted_views(instrument, scores, figures),
    )


def _standing_row(
    dimension_id: str, name: str, scores: LeaderScores, placement: CohortPlacement | None
) -> StandingRow:
    figures = placement.figures if placement else None
    others = scores.others.dimensions.get(dimension_id) if scores.others else None
    mine = scores.self_scores.dimensions.get(dimension_id) if scores.self_scores else None
    kind = figures.agreement.get(dimension_id) if figures else None
    cohort_p = figures.percentile_cohort.get(dimension_id) if figures else None
    reference_p = figures.percentile_reference.get(dimension_id) if figures else None
    note = None
    if figures is None:
        note = "Cohort figures were not available."
    elif others is None:
        note = "No Others score can be shown for this capability, so it cannot be compared."
    elif kind is None and mine is None:
        note = "You have no self-rating here, so there is no agreement type."
    elif kind is None:
        note = "Too few leaders in the cohort have observer scores to set the margin of agreement."
    return StandingRow(
        dimension=name,
        self_score=number(mine.mean) if mine else None,
        others=number(others.mean) if others else None,
        agreement=AGREEMENT_LABELS.get(str(kind), str(kind)) if kind else None,
        meaning=kind.meaning if kind else None,
        percentile=ordinal(cohort_p) if cohort_p is not None else None,
        cohort_n=placement.cohort_leaders.get(dimension_id, 0) if placement else 0,
        reference_percentile=ordinal(reference_p) if reference_p is not None else None,
        reference_n=placement.reference_leaders.get(dimension_id, 0) if placement else 0,
        note=note,
    )


def _change_row(name: str, change: Change) -> ChangeRow:
    if change.reliable:
        verdict = "Reliably higher" if change.difference > 0 else "Reliably lower"
    else:
        verdict = "Within measurement error"
    return ChangeRow(
        dimension=name,
        before=number(change.before),
        now=number(change.now),
        difference=signed(change.difference),
        rci=signed(change.rci),
        reliable=change.reliable,
        verdict=verdict,
    )


def _change_notes(instrument: Instrument, figures: LeaderFigures) -> list[str]:
    if figures.previous_cohort is None:
        return [
            "This is your first assessment on this questionnaire, so there is no earlier score "
            "to compare with. Next time, this page will show what has changed."
        ]
    return [
        f"{d.name}: no change can be worked out, because an Others score is missing in one of "
        "the two rounds or the earlier cohort's spread and reliability are not known."
        for d in instrument.dimensions
        if d.id not in figures.change
    ]


CLOSE_PREDICTION = 0.5
"""A prediction less than half a scale point from the Others score reads as close."""

NO_PREDICTIONS = (
    "You chose not to predict how others would rate you, so there is nothing to compare here. "
    "Next time you can: the self-assessment lets you predict, for each capability, the score "
    "others will give you, and your report then sets each prediction beside their actual score."
)


def scale_point(value: float) -> str:
    """A prediction as the report prints it: the point of the scale the leader chose ('4')."""
    return str(int(value)) if float(value).is_integer() else number(value)


def _prediction_reading(error: float) -> str:
    if round(abs(error), 2) < CLOSE_PREDICTION:
        return "Close to how others rated you"
    if error > 0:
        return "You expected higher than others rated you"
    return "You expected lower than others rated you"


def _error_reading(error: float) -> str:
    if round(error, 2) < CLOSE_PREDICTION:
        return f"Close: under {number(CLOSE_PREDICTION)}"
    return f"Not close: {number(CLOSE_PREDICTION)} or more"


def _predicted_views(
    instrument: Instrument, scores: LeaderScores, figures: LeaderFigures | None
) -> PredictedViews:
    """Each capability's prediction beside its Others score, and the mean absolute error.

    Everything comes from ``figures.predictions`` and ``figures.prediction_error``; where a
    prediction cannot be compared (no Others score shown) the reason is the scoring layer's.
    """
    if figures is None:
        unavailable = (
            "Your predictions of how others would rate you are set beside figures worked out "
            "for the whole cohort, and those were not available for this report."
        )
        return PredictedViews([], None, None, number(CLOSE_PREDICTION), 0, unavailable, [])
    if not figures.predictions:
        nothing = (
            "Predictions of how others would rate you are made in the self-assessment, which "
            "you did not complete, so there is nothing to compare here."
            if not scores.self_scores
            else NO_PREDICTIONS
        )
        return PredictedViews([], None, None, number(CLOSE_PREDICTION), 0, nothing, [])
    rows: list[PredictionRow] = []
    notes: list[str] = []
    for dimension in instrument.dimensions:
        prediction = figures.predictions.get(dimension.id)
        others = figures.others.get(dimension.id)
        if prediction is None:
            shown = number(others) if others is not None else None
            rows.append(
                PredictionRow(
                    dimension.name, None, shown, None, "You did not predict this capability"
                )
            )
        elif prediction.others is None or prediction.error is None:
            rows.append(
                PredictionRow(
                    dimension.name,
                    scale_point(prediction.predicted),
                    None,
                    None,
                    "Comparison withheld: no Others score can be shown",
                )
            )
            if scores.others is not None:
                notes.append(
                    f"{dimension.name}: your prediction is not compared, because no Others score "
                    "can be shown for this capability: "
                    f"{_absent_reason(scores.others, 'dimension', dimension.id)}"
                )
        else:
            rows.append(
                PredictionRow(
                    dimension.name,
                    scale_point(prediction.predicted),
                    number(prediction.others),
                    signed(prediction.error),
                    _prediction_reading(prediction.error),
                )
            )
    error = figures.prediction_error
    note: str | None = None
    if scores.others is None:
        note = (
            "None of your predictions can be compared, because there are no observer scores "
            f"to compare them with. {_observers_note(scores)}"
        )
    elif error is None:
        note = (
            "None of your predictions can be compared with others' view (see below), so there "
            "is no prediction error this time."
        )
    return PredictedViews(
        rows=rows,
        error=number(error) if error is not None else None,
        error_reading=None if error is None else _error_reading(error),
        close_below=number(CLOSE_PREDICTION),
        compared=sum(1 for p in figures.predictions.values() if p.error is not None),
        note=note,
        notes=notes,
    )


def _profile_summary(placement: CohortPlacement | None) -> ProfileSummary:
    model = placement.profile_model if placement else None
    assignment = placement.profile if placement else None
    names = list(model.names) if model else []
    stability = number(model.stability) if model and model.stability is not None else None
    n_leaders = model.n_leaders if model else None
    if assignment is not None:
        return ProfileSummary(
            assignment.name, percent(assignment.probability), names, n_leaders, stability, None
        )
    if placement is None:
        note = "Profiles were not available for this report."
    elif placement.profile_unavailable:
        note = placement.profile_unavailable
    elif model is None:
        note = "Profiles were not available for this report."
    else:
        note = (
            "You have no profile: it needs an Others score and a self-rating for every "
            "capability, and some of yours could not be shown."
        )
    return ProfileSummary(None, None, names, n_leaders, stability, note)
