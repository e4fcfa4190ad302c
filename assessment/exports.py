"""Everything written out: a cohort's scores as CSV, JSON and XLSX, in cells no spreadsheet will run.

Every figure of :func:`assessment.results.cohort_results`, per leader, group, dimension and
item (with the leader's predictions of their Others scores and the errors), as CSV (one row per
figure, :func:`csv_rows`), JSON, or an XLSX sheet of the CSV's rows: ``cl360 scores export``
and the coach's downloads, which :mod:`assessment.disclosures` makes and records. What the
scoring layer withheld is written as ``suppressed`` with a reason code and no number at all;
no row holds a rater's name, email, response id, answer or comment, because the export only
ever sees scoring output. These are plain functions; the callers open the transaction.

Text cells that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a
carriage return) are prefixed with an apostrophe, the OWASP advice against CSV injection;
control characters are dropped (XLSX cannot hold them); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import IO, Any, NamedTuple

import orjson

from assessment.core.instruments import Instrument
from assessment.core.psychometrics import LeaderFigures
from assessment.core.scoring import OTHERS, SCORING_VERSION, GroupScores, Stat, Withheld
from assessment.results import CohortResults

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str) -> str:
    """A text cell no spreadsheet will evaluate (CSV/formula injection)."""
    value = "".join(ch for ch in value if ch in "\t\n\r" or ord(ch) >= 32)
    return "'" + value if value.startswith(FORMULA_START) else value


def safe_cells(row: Iterable[Any]) -> list[Any]:
    return [safe_text(v) if isinstance(v, str) else v for v in row]


def to_xlsx(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "scores") -> bytes:
    """An XLSX workbook (openpyxl, streaming) of one sheet: a header row, then ``rows``."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(list(columns))
    for row in rows:
        sheet.append(safe_cells(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- the scores export ------------------------------------------------------------------

EXPORT_FORMAT = "cl360-scores/2"
"""2: predicted views added (CSV columns predicted, prediction_error and
mean_absolute_prediction_error before profile; JSON keys of the same names)."""

CSV_COLUMNS = (
    "record",
    "leader_email",
    "leader_name",
    "group",
    "group_label",
    "kind",
    "id",
    "status",
    "reason",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "rwg",
    "raters_disagree",
    "self_minus_others",
    "flag",
    "percentile_cohort",
    "percentile_reference",
    "agreement_type",
    "previous_cohort",
    "previous_mean",
    "rci",
    "reliable_change",
    "predicted",
    "prediction_error",
    "mean_absolute_prediction_error",
    "profile",
    "profile_probability",
    "median",
    "alpha",
    "alpha_n",
)
SHOWN = "shown"
SUPPRESSED = "suppressed"
_POSITION = {column: index for index, column in enumerate(CSV_COLUMNS)}
_EXTRAS = CSV_COLUMNS[_POSITION["self_minus_others"] : _POSITION["prediction_error"] + 1]
NO_EXTRAS = (None,) * len(_EXTRAS)
_TAIL = (None,) * (len(CSV_COLUMNS) - _POSITION["prediction_error"] - 1)
_NO_STATS = (None,) * len(Stat._fields)
_NO_STAT_CELLS = "," * (len(Stat._fields) - 1)
_EMPTY_AFTER_DISAGREE = "," * (len(_EXTRAS) + len(_TAIL))


def _row(**fields: Any) -> tuple[Any, ...]:
    """A CSV row from named fields; the rest are empty."""
    row: list[Any] = [None] * len(CSV_COLUMNS)
    for column, value in fields.items():
        row[_POSITION[column]] = _cell(value)
    return tuple(row)


def _text(value: str) -> str:
    """A text cell no spreadsheet will evaluate; the check is cheap for the usual plain names."""
    if value.isprintable() and not value.startswith(FORMULA_START):
        return value
    return safe_text(value)


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _text(value)
    return value


def _group_figures(
    group: GroupScores, instrument: Instrument
) -> Iterator[tuple[str, str, Stat | Withheld]]:
    """(kind, id, figure or why it is withheld) for every figure of a group, in instrument
    order; figures absent without a reason (self chose "not able to rate") are skipped."""
    for kind, ids in _figure_ids(instrument):
        stats = group.dimensions if kind == "dimension" else group.items
        for figure_id in ids:
            stat = stats.get(figure_id)
            if stat is not None:
                yield kind, figure_id, stat
            elif (withheld := group.withheld_figures.get(f"{kind}:{figure_id}")) is not None:
                yield kind, figure_id, withheld


def _figure_ids(instrument: Instrument) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return (
        ("dimension", tuple(d.id for d in instrument.dimensions)),
        ("item", tuple(i.id for i in instrument.items)),
    )


def _dimension_extras(figures: LeaderFigures, dimension_id: str) -> dict[str, Any]:
    """What Others' dimension figure carries besides its statistics: norms, type, change, and
    the leader's prediction of it (its error absent when the Others score is withheld)."""
    change = figures.change.get(dimension_id)
    agreement = figures.agreement.get(dimension_id)
    prediction = figures.predictions.get(dimension_id)
    return {
        "percentile_cohort": figures.percentile_cohort.get(dimension_id),
        "percentile_reference": figures.percentile_reference.get(dimension_id),
        "agreement_type": agreement.value if agreement else None,
        "previous_cohort": figures.previous_cohort if change else None,
        "previous_mean": change.before if change else None,
        "rci": change.rci if change else None,
        "reliable_change": change.reliable if change else None,
        "predicted": prediction.predicted if prediction else None,
        "prediction_error": prediction.error if prediction else None,
    }


def _extras_rows(figures: LeaderFigures) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The extra CSV cells (:data:`_EXTRAS`) of each Others figure, by (kind, figure id)."""
    scores = figures.scores
    flags = {f.item_id: "blind_spot" for f in scores.blind_spots}
    flags |= {f.item_id: "hidden_strength" for f in scores.hidden_strengths}
    rows = {
        ("item", item_id): (gap, flags.get(item_id), *(None,) * (len(_EXTRAS) - 2))
        for item_id, gap in scores.item_gaps.items()
    }
    for dimension_id in figures.others:
        extras = _dimension_extras(figures, dimension_id)
        rows["dimension", dimension_id] = (
            scores.dimension_gaps.get(dimension_id),
            None,
            *(_cell(extras[column]) for column in _EXTRAS[2:]),
        )
    return rows


def _self_extras_rows(figures: LeaderFigures) -> dict[tuple[str, str], tuple[Any, ...]]:
    """The extra CSV cells of the self group's dimension figures: the leader's prediction
    (their own answer, exported even when the Others score it predicts is withheld)."""
    return {
        # The last two extras are ``predicted`` and ``prediction_error`` (none on this row).
        ("dimension", dimension_id): (*NO_EXTRAS[:-2], prediction.predicted, None)
        for dimension_id, prediction in figures.predictions.items()
    }


class FigureRow(NamedTuple):
    """One figure row of a group, without the leader and group cells it shares with the rest."""

    kind: str
    id: str
    status: str
    reason: str | None
    stat: Stat | None
    disagree: str | None
    extras: tuple[Any, ...]


@dataclass(frozen=True)
class FigureBlock:
    """The figure rows of one rater group of one leader: nearly every row of a large export."""

    prefix: tuple[str, ...]
    """The cells every row of the group shares: record, leader email and name, group, label."""
    figures: list[FigureRow]

    def row(self, f: FigureRow) -> tuple[Any, ...]:
        return (*self.prefix, f.kind, f.id, f.status, f.reason, *(f.stat or _NO_STATS),
                f.disagree, *f.extras, *_TAIL)  # fmt: skip

    def rows(self) -> Iterator[tuple[Any, ...]]:
        return map(self.row, self.figures)


def csv_rows(results: CohortResults) -> Iterator[tuple[Any, ...]]:
    """The CSV export, in :data:`CSV_COLUMNS` order: cohort rows, profile rows, then per leader
    a summary row and one row per figure of each group (suppressed ones without numbers)."""
    for part in _export_parts(results):
        if isinstance(part, FigureBlock):
            yield from part.rows()
        else:
            yield part


def write_csv(results: CohortResults, out: IO[str]) -> None:
    """:func:`csv_rows` written as CSV text, with a header row."""
    write_rows(out, chain([CSV_COLUMNS], _export_parts(results)))


def write_rows(out: IO[str], parts: Iterable[tuple[Any, ...] | FigureBlock]) -> None:
    """Write the rows of ``parts`` exactly as ``csv.writer(out, lineterminator="\\n")`` would,
    the rows of a :class:`FigureBlock` several times faster.

    Nearly all the time of a large export went on turning the figure rows' numbers into text
    one cell at a time. So the cells a block's rows share (record, leader email and name,
    group, label) are quoted once by the csv module; the kind, id, status and reason cells
    are identifiers (instrument ids are checked against ``IDENTIFIER`` on load), which never
    need quoting; and the statistics of the whole block are formatted by one orjson call, in
    the same shortest round-trip digits as ``repr``, fifteen times faster. Where orjson's text
    would differ, the csv module writes: a block with a number below 0.0001 (orjson spells
    ``1e-05`` and ``1e-07`` as ``0.00001`` and ``1e-7``), a row with a NaN or an infinity
    (``null`` to orjson, as None is), and the rows with extra cells (the Others figures' gaps,
    norms and predictions).
    """
    writer = csv.writer(out, lineterminator="\n")
    shared = io.StringIO()
    shared_writer = csv.writer(shared, lineterminator="\n")  # quotes line breaks, as writer does
    for part in parts:
        if not isinstance(part, FigureBlock):
            writer.writerow(part)
            continue
        if not part.figures:
            continue
        text = orjson.dumps([f.stat or _NO_STATS for f in part.figures], default=tuple).decode()
        if "e" in text or "0.0000" in text:
            writer.writerows(part.rows())
            continue
        shared.seek(0)
        shared.truncate()
        shared_writer.writerow(part.prefix)
        head = shared.getvalue()[:-1] + ","
        lines = []
        # [[n,mean,sd,ci_low,ci_high,rwg],...] -> "n,mean,sd,ci_low,ci_high,rwg" per figure
        for figure, numbers in zip(part.figures, text[2:-2].split("],["), strict=True):
            plain = figure.extras is NO_EXTRAS
            if plain and "n" in numbers:  # null: a None, or a NaN or an infinity
                if figure.stat is None:
                    numbers = _NO_STAT_CELLS
                elif numbers.count("n") == figure.stat.count(None):
                    numbers = numbers.replace("null", "")
                else:
                    plain = False
            if plain:
                lines.append(
                    f"{head}{figure.kind},{figure.id},{figure.status},{figure.reason or ''},"
                    f"{numbers},{figure.disagree or ''}{_EMPTY_AFTER_DISAGREE}\n"
                )
            else:
                out.write("".join(lines))
                lines.clear()
                writer.writerow(part.row(figure))
        out.write("".join(lines))


def _export_parts(results: CohortResults) -> Iterator[tuple[Any, ...] | FigureBlock]:
    """The export's rows in order, each group's figure rows as one :class:`FigureBlock`."""
    instrument = results.instrument
    for dimension in instrument.dimensions:
        distribution = results.figures.distributions[dimension.id]
        reliability = results.figures.reliability[dimension.id]
        yield _row(
            record="cohort",
            kind="dimension",
            id=dimension.id,
            n=distribution.n,
            mean=distribution.mean,
            sd=distribution.sd,
            median=distribution.median,
            alpha=reliability.alpha,
            alpha_n=reliability.n_responses,
        )
    profiles = results.profiles
    if profiles.model is not None:
        for index, name in enumerate(profiles.model.names):
            yield _row(
                record="profile",
                kind="profile",
                id=str(index),
                status="stored",
                n=profiles.model.sizes[index],
                profile=name,
            )
    elif profiles.unavailable is not None:
        yield _row(
            record="profile",
            kind="profile",
            status=profiles.unavailable.status,
            reason=profiles.unavailable.message,
            n=profiles.unavailable.n_leaders,
        )
    for leader_id, info in results.leaders.items():
        figures = results.figures.leaders.get(leader_id)
        if figures is not None:
            yield from _leader_rows(results, info.email, info.name, leader_id, figures)


def _leader_rows(
    results: CohortResults, email: str, name: str, leader_id: int, figures: LeaderFigures
) -> Iterator[tuple[Any, ...] | FigureBlock]:
    scores = figures.scores
    assignment = results.profiles.assignments.get(leader_id)
    observers_withheld = next((w for w in scores.withheld if w.group == OTHERS), None)
    yield _row(
        record="leader",
        leader_email=email,
        leader_name=name,
        status=SUPPRESSED if scores.others is None else SHOWN,
        reason=observers_withheld.code if observers_withheld else None,
        n=scores.others.n_raters if scores.others else None,
        profile=assignment.name if assignment else None,
        profile_probability=assignment.probability if assignment else None,
        previous_cohort=figures.previous_cohort,
        mean_absolute_prediction_error=figures.prediction_error,
    )
    email, name = _text(email), _text(name)
    others_extras = _extras_rows(figures)
    groups = [(scores.self_scores, _self_extras_rows(figures))] if scores.self_scores else []
    groups += [(g, others_extras if g is scores.others else {}) for g in scores.shown]
    figure_ids = _figure_ids(results.instrument)
    for group, extras in groups:
        # The hot loop (millions of rows for a large cohort): plain tuples, no dicts.
        rows = []
        for kind, ids in figure_ids:
            stats = group.dimensions if kind == "dimension" else group.items
            for figure_id in ids:
                stat = stats.get(figure_id)
                if stat is not None:
                    disagree = "true" if stat.raters_disagree else "false"
                    rows.append(FigureRow(kind, figure_id, SHOWN, None, stat, disagree,
                                          extras.get((kind, figure_id), NO_EXTRAS)))  # fmt: skip
                elif (withheld := group.withheld_figures.get(f"{kind}:{figure_id}")) is not None:
                    rows.append(FigureRow(kind, figure_id, SUPPRESSED, withheld.code, None,
                                          None, NO_EXTRAS))  # fmt: skip
        yield FigureBlock(("figure", email, name, group.key, _text(group.label)), rows)
    for withheld in scores.withheld:
        yield _row(
            record="figure",
            leader_email=email,
            leader_name=name,
            group=withheld.group,
            group_label=withheld.label,
            kind="group",
            status=SUPPRESSED,
            reason=withheld.code,
        )


def write_json(results: CohortResults, out: IO[str]) -> None:
    """The JSON export, written leader by leader so memory does not grow with the cohort."""
    instrument = results.instrument
    rules = results.rules
    head = {
        "format": EXPORT_FORMAT,
        "scoring_version": SCORING_VERSION,
        "cohort": {
            "slug": results.slug,
            "name": results.name,
            "instrument": {
                "id": instrument.id,
                "version": instrument.version,
                "title": instrument.title,
            },
            "rules": {
                "group_minimums": dict(rules.group_minimums),
                "others_minimum": rules.others_minimum,
                "comments_minimum": rules.comments_minimum,
                "gap_threshold": rules.gap_threshold,
            },
        },
        "dimensions": [_dimension_json(results, d.id, d.name) for d in instrument.dimensions],
        "profiles": _profiles_json(results),
    }
    text = json.dumps(head, indent=1)
    out.write(text[: text.rindex("}")].rstrip() + ',\n "leaders": [')
    for index, leader_id in enumerate(results.leaders):
        figures = results.figures.leaders.get(leader_id)
        if figures is None:
            continue
        leader = orjson.dumps(_leader_json(results, leader_id, figures)).decode()
        out.write(("\n  " if index == 0 else ",\n  ") + leader)
    out.write("\n ]\n}\n")


def _dimension_json(results: CohortResults, dimension_id: str, name: str) -> dict[str, Any]:
    distribution = results.figures.distributions[dimension_id]
    reliability = results.figures.reliability[dimension_id]
    return {
        "id": dimension_id,
        "name": name,
        "alpha": reliability.alpha,
        "alpha_responses": reliability.n_responses,
        "items": reliability.n_items,
        "leaders": distribution.n,
        "mean": distribution.mean,
        "sd": distribution.sd,
        "median": distribution.median,
        "agreement_margin": distribution.margin,
        "reference_leaders": results.figures.reference_size[dimension_id],
    }


def _profiles_json(results: CohortResults) -> dict[str, Any]:
    profiles = results.profiles
    if profiles.model is None:
        if profiles.unavailable is None:
            return {"status": "not_computed"}
        return {
            "status": profiles.unavailable.status,
            "message": profiles.unavailable.message,
            "leaders": profiles.unavailable.n_leaders,
            "minimum": profiles.unavailable.minimum,
        }
    data = profiles.model.to_data()
    return {
        "status": "stored",
        "k": data["k"],
        "names": data["names"],
        "sizes": data["sizes"],
        "method": data["method"],
        "selection": data["selection"],
        "stability": data["stability"],
        "leaders": data["n"],
        "fitted_at": data["fitted_at"],
    }


def _leader_json(results: CohortResults, leader_id: int, figures: LeaderFigures) -> dict[str, Any]:
    info = results.leaders[leader_id]
    scores = figures.scores
    instrument = results.instrument
    groups: list[dict[str, Any]] = []
    for group in ([scores.self_scores] if scores.self_scores else []) + scores.shown:
        entry: dict[str, Any] = {
            "group": group.key,
            "label": group.label,
            "status": SHOWN,
            "n_raters": group.n_raters,
            "dimensions": {},
            "items": {},
        }
        for kind, figure_id, figure in _group_figures(group, instrument):
            entry["dimensions" if kind == "dimension" else "items"][figure_id] = (
                {"status": SUPPRESSED, "reason": figure.code}
                if isinstance(figure, Withheld)
                else {
                    "status": SHOWN,
                    **figure._asdict(),
                    "raters_disagree": figure.raters_disagree,
                }
            )
        groups.append(entry)
    groups += [
        {"group": w.group, "label": w.label, "status": SUPPRESSED, "reason": w.code}
        for w in scores.withheld
    ]
    assignment = results.profiles.assignments.get(leader_id)
    return {
        "email": info.email,
        "name": info.name,
        "department": info.department,
        "observer_scores": SHOWN if scores.others else SUPPRESSED,
        "comments_shown": scores.comments_allowed,
        "groups": groups,
        "self_minus_others": {
            "dimensions": scores.dimension_gaps,
            "items": scores.item_gaps,
        },
        "blind_spots": [f.item_id for f in scores.blind_spots],
        "hidden_strengths": [f.item_id for f in scores.hidden_strengths],
        "dimensions": {
            d: _dimension_extras(figures, d)
            for d in dict.fromkeys([*figures.others, *figures.predictions])
        },
        "mean_absolute_prediction_error": figures.prediction_error,
        "profile": (
            {
                "name": assignment.name,
                "index": assignment.index,
                "probability": assignment.probability,
            }
            if assignment
            else None
        ),
    }
