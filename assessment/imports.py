"""Everything read from CSV files: leaders, raters and responses, all or nothing, every problem reported.

Every file goes through one reader, :class:`CsvRows`. A file is read completely and every row
checked (against the other rows and the database) before anything is written; one bad row means
nothing changes and the coach gets a list of ``row N, column X: message`` problems to fix.
Files come from spreadsheets in the wild, so the reader accepts UTF-8 with or without a
byte-order mark, UTF-16 with one, and Windows-1252, and comma, semicolon, tab or pipe as the
delimiter. The web page and ``cl360 leaders import`` / ``cl360 raters import`` call the same
functions.

Responses collected elsewhere (``cl360 responses import``, ``docs/scoring.md`` has the format):
one CSV row per rater, columns ``leader`` (email), ``relationship``, one per item id (blank =
not able to rate), optionally one per open question id and one ``predicted:<dimension id>`` per
dimension (the leader's prediction of their Others score: on ``self`` rows only, blank = no
prediction). Accepted rows are stored by :func:`assessment.responses.store_responses`, exactly
as web submissions are (no link to anyone, random ids, no timestamps).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assessment import audit
from assessment.accounts import AccountError, normalise_email
from assessment.cohorts import CohortError, cohort_instrument, cohort_languages
from assessment.core.instruments import Instrument
from assessment.core.text import TextError, free_text, one_line
from assessment.models import (
    Cohort,
    Invitation,
    Leader,
    Nomination,
    NominationStatus,
    Relationship,
    Response,
)
from assessment.responses import MAX_COMMENT_LENGTH, NOT_ABLE_TO_RATE, NewResponse, store_responses

MAX_ROWS = 5000
DELIMITERS = ",;\t|"
NAME_LENGTH = 200

# Accepted spellings of each column, after lower-casing and turning spaces and dashes into "_".
LEADER_COLUMNS = {
    "name": ("name", "full_name", "leader", "leader_name"),
    "email": ("email", "e_mail", "email_address", "leader_email"),
    "department": ("department", "group", "team", "dept"),
}
RATER_COLUMNS = {
    "leader_email": ("leader_email", "leader", "leader_e_mail"),
    "rater_name": ("rater_name", "name", "rater", "full_name"),
    "rater_email": ("rater_email", "email", "rater_e_mail", "email_address"),
    "relationship": ("relationship", "group", "rater_group", "relation"),
    "language": ("language", "lang"),
}
LEADER_REQUIRED = ("name", "email")
RATER_REQUIRED = ("leader_email", "rater_name", "rater_email", "relationship")


FILE = "(file)"
"""The column of a problem with the file as a whole."""
ROW = "(row)"
"""The column of a problem with a whole row."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong in an import file: ``row`` counts lines of the file from 1 (the header;
    a row whose quoted cell holds line breaks is numbered by its last line), ``column`` is the
    column's name, or :data:`FILE` or :data:`ROW`."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.message}"


class ImportProblems(CohortError):
    """The file was refused as a whole; ``problems`` lists every reason, nothing was written."""

    def __init__(self, problems: Iterable[RowProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:3]))


@dataclass(frozen=True)
class Row:
    number: int
    values: dict[str, str]


def decode(data: bytes) -> str:
    """Text of an uploaded file, or :class:`ImportProblems` saying why it is not a CSV file."""
    if not data.strip():
        raise ImportProblems([RowProblem(1, FILE, "the file is empty")])
    if data.startswith(b"PK\x03\x04"):
        raise ImportProblems(
            [
                RowProblem(
                    1,
                    FILE,
                    "this is a spreadsheet workbook (e.g. .xlsx), not a CSV file: "
                    "save it as 'CSV UTF-8' and upload that",
                )
            ]
        )
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(encoding)
    if b"\x00" in data:
        raise ImportProblems([RowProblem(1, FILE, "binary data, not a CSV text file")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV (comma delimited)" in the ANSI code page.
        return data.decode("cp1252", errors="replace")


def _delimiter(text: str) -> str:
    """The delimiter the header uses most: a spreadsheet in another locale writes semicolons
    or tabs where the header's titles never hold one. Comma when none is used."""
    header = text.split("\n", 1)[0]
    return max(DELIMITERS, key=lambda d: (header.count(d), d == ","))


def _canonical(header: str) -> str:
    return "_".join(header.strip().lower().replace("-", "_").split())


def _either(names: Iterable[str]) -> str:
    *most, last = names
    return f"{', '.join(most)} or {last}" if most else last


class CsvRows:
    """The rows of a CSV file as {column: value}, read once, one at a time: the one reader of
    every import.

    ``columns`` holds each column's accepted titles (compared as :func:`_canonical` spells
    them), ``required`` the columns a file must have. A file that cannot be read as a whole
    (empty, binary, a bad header) raises :class:`ImportProblems` at once, and so does one with
    no rows or more than ``max_rows`` when they are read. Malformed rows are skipped and noted
    in :attr:`problems`, to be reported together with the problems the caller finds in the
    values of the other rows (which it adds to the same list).

    A header problem says what an unknown column is not (``unknown``; by default, any of
    ``columns``) and why a missing one is needed (``missing``, by column; by default, that it
    is required). Spreadsheets leave out a row's last empty cells, or add blank ones, so a row
    may do either, unless ``whole_rows``: then every row has one value per column of the
    header, for files where a left-out cell would read as an answer.
    """

    def __init__(
        self,
        data: bytes,
        columns: Mapping[str, Iterable[str]],
        required: Iterable[str],
        *,
        unknown: str | None = None,
        missing: Mapping[str, str] | None = None,
        whole_rows: bool = False,
        max_rows: int | None = MAX_ROWS,
    ) -> None:
        text = decode(data)
        self._reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
        try:
            header = next(self._reader)
        except StopIteration:
            raise ImportProblems([RowProblem(1, FILE, "the file is empty")]) from None
        except csv.Error as error:
            raise ImportProblems([RowProblem(1, FILE, f"unreadable CSV: {error}")]) from None
        names = {_canonical(title): name for name, titles in columns.items() for title in titles}
        not_known = f"unknown column: {unknown or 'not ' + _either(columns)}"
        self._positions: dict[str, int] = {}
        self.problems: list[RowProblem] = []
        for index, title in enumerate(header):
            if not title.strip():  # a spreadsheet's trailing empty columns
                continue
            name = names.get(_canonical(title))
            if name is None:
                self.problems.append(RowProblem(1, title.strip(), not_known))
            elif name in self._positions:
                self.problems.append(RowProblem(1, title.strip(), "this column is given twice"))
            else:
                self._positions[name] = index
        for name in required:
            if name not in self._positions:
                why = (missing or {}).get(name, "this column is required")
                self.problems.append(RowProblem(1, name, f"missing: {why}"))
        if self.problems:
            raise ImportProblems(self.problems)
        self._width = len(header)
        self._whole_rows = whole_rows
        self._max_rows = max_rows

    def __iter__(self) -> Iterator[Row]:
        reader, width, problems = self._reader, self._width, self.problems
        count = 0
        try:
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                number = reader.line_num
                if len(record) != width and (
                    self._whole_rows or any(cell.strip() for cell in record[width:])
                ):
                    problems.append(
                        RowProblem(
                            number, ROW, f"{len(record)} values, but the header has {width} columns"
                        )
                    )
                    continue
                if len(record) < width:
                    record += [""] * (width - len(record))
                count += 1
                if self._max_rows is not None and count > self._max_rows:
                    raise ImportProblems(
                        [RowProblem(number, FILE, f"more than {self._max_rows} rows")]
                    )
                yield Row(number, {name: record[i].strip() for name, i in self._positions.items()})
        except csv.Error as error:
            problems.append(RowProblem(reader.line_num, FILE, f"unreadable CSV: {error}"))
        if not count and not problems:
            raise ImportProblems(
                [RowProblem(2, FILE, "the file has a header row but no data rows")]
            )


def read_rows(
    data: bytes, columns: Mapping[str, Iterable[str]], required: Iterable[str]
) -> tuple[list[Row], list[RowProblem]]:
    """Every row of a leader or rater file at once (they hold at most :data:`MAX_ROWS`), and
    the malformed ones (:class:`CsvRows`)."""
    rows = CsvRows(data, columns, required)
    return list(rows), rows.problems


def _email(row: Row, column: str, problems: list[RowProblem]) -> str | None:
    raw = row.values.get(column, "")
    if not raw:
        problems.append(RowProblem(row.number, column, "required"))
        return None
    try:
        return normalise_email(raw)
    except AccountError:
        problems.append(RowProblem(row.number, column, f"'{raw}' is not a valid email address"))
        return None


def _name(
    row: Row, column: str, problems: list[RowProblem], *, required: bool = True
) -> str | None:
    try:
        value = one_line(row.values.get(column, ""), "the value")
    except TextError as error:
        problems.append(RowProblem(row.number, column, str(error)))
        return None
    if not value:
        if required:
            problems.append(RowProblem(row.number, column, "required"))
        return None
    if len(value) > NAME_LENGTH:
        problems.append(RowProblem(row.number, column, f"longer than {NAME_LENGTH} characters"))
        return None
    return value


def _require_open(cohort: Cohort) -> None:
    if not cohort.is_open:
        raise ImportProblems([RowProblem(1, FILE, "this cohort is closed; reopen it to import")])


def import_leaders(session: Session, cohort: Cohort, data: bytes, *, actor: str) -> list[Leader]:
    """Add every leader of a CSV file (name, email, optional department) or none of them."""
    _require_open(cohort)
    rows, problems = read_rows(data, LEADER_COLUMNS, LEADER_REQUIRED)
    existing = set(
        session.scalars(select(func.lower(Leader.email)).where(Leader.cohort_id == cohort.id))
    )
    seen: dict[str, int] = {}
    accepted: list[tuple[str, str, str | None]] = []
    for row in rows:
        name = _name(row, "name", problems)
        email = _email(row, "email", problems)
        department = _name(row, "department", problems, required=False)
        if email is not None:
            if email in seen:
                problems.append(
                    RowProblem(row.number, "email", f"{email} is already on row {seen[email]}")
                )
            elif email in existing:
                problems.append(
                    RowProblem(row.number, "email", f"{email} is already a leader in this cohort")
                )
            seen.setdefault(email, row.number)
        if name and email:
            accepted.append((name, email, department))
    if problems:
        raise ImportProblems(sorted(problems, key=lambda p: p.row))
    # Every row was checked above, against the file and the database: written in one flush
    # (batched INSERTs), so 5,000 leaders take a second, not one round trip each.
    leaders = [
        Leader(cohort=cohort, name=name, email=email, department=department)
        for name, email, department in accepted
    ]
    session.add_all(leaders)
    session.flush()
    audit.record(session, actor, "leaders.import", f"cohort:{cohort.slug}", count=len(leaders))
    return leaders


RELATIONSHIP_WORDS = {
    "manager": Relationship.MANAGER,
    "line_manager": Relationship.MANAGER,
    "peer": Relationship.PEER,
    "peers": Relationship.PEER,
    "colleague": Relationship.PEER,
    "direct_report": Relationship.DIRECT_REPORT,
    "direct_reports": Relationship.DIRECT_REPORT,
    "report": Relationship.DIRECT_REPORT,
    "other": Relationship.OTHER,
    "others": Relationship.OTHER,
    "other_colleague": Relationship.OTHER,
}


def parse_relationship(value: str, allowed: Iterable[str]) -> Relationship | None:
    """A relationship from a spreadsheet cell ("Direct report", "peers", "manager"), if allowed."""
    relationship = RELATIONSHIP_WORDS.get(_canonical(value))
    if relationship is None or relationship.value not in allowed:
        return None
    return relationship


def import_raters(session: Session, cohort: Cohort, data: bytes, *, actor: str) -> list[Invitation]:
    """Invitations for every rater of a CSV file (leader email, rater name, email, relationship).

    The invitations are created but not mailed: the cohort page (or ``cl360 invitations
    send``) sends them, so a corrected file can be checked before anyone gets an email.
    """
    _require_open(cohort)
    rows, problems = read_rows(data, RATER_COLUMNS, RATER_REQUIRED)
    instrument = cohort_instrument(cohort)
    allowed = [g.id for g in instrument.observer_groups]
    languages = cohort_languages(cohort)
    leaders = {leader.email.lower(): leader for leader in cohort.leaders}
    taken = {
        (leader_id, (email or "").lower())  # never None: the query leaves those out
        for leader_id, email in session.execute(
            select(Invitation.leader_id, Invitation.rater_email)
            .join(Leader)
            .where(Leader.cohort_id == cohort.id, Invitation.rater_email.is_not(None))
        )
    } | {
        (leader_id, email.lower())
        for leader_id, email in session.execute(
            select(Nomination.leader_id, Nomination.rater_email)
            .join(Leader)
            .where(Leader.cohort_id == cohort.id, Nomination.status == NominationStatus.PENDING)
        )
    }
    seen: dict[tuple[int, str], int] = {}
    accepted = []
    for row in rows:
        leader_email = _email(row, "leader_email", problems)
        leader = leaders.get(leader_email or "")
        if leader_email and leader is None:
            problems.append(
                RowProblem(
                    row.number, "leader_email", f"{leader_email} is not a leader in this cohort"
                )
            )
        name = _name(row, "rater_name", problems)
        email = _email(row, "rater_email", problems)
        raw = row.values.get("relationship", "")
        relationship = parse_relationship(raw, allowed)
        if relationship is None:
            problems.append(
                RowProblem(
                    row.number,
                    "relationship",
                    f"'{raw}' is not one of: {', '.join(allowed)}" if raw else "required",
                )
            )
        language = row.values.get("language") or None
        if language and language not in languages:
            problems.append(
                RowProblem(
                    row.number, "language", f"'{language}' is not one of: {', '.join(languages)}"
                )
            )
        if leader is not None and email is not None:
            key = (leader.id, email)
            if email == leader.email.lower():
                problems.append(
                    RowProblem(row.number, "rater_email", "a leader cannot rate themselves here")
                )
            elif key in seen:
                problems.append(
                    RowProblem(
                        row.number,
                        "rater_email",
                        f"{email} is already on row {seen[key]} for this leader",
                    )
                )
            elif key in taken:
                problems.append(
                    RowProblem(
                        row.number,
                        "rater_email",
                        f"{email} is already invited or nominated for {leader.name}",
                    )
                )
            seen.setdefault(key, row.number)
        if leader and name and email and relationship:
            accepted.append((leader, relationship, name, email, language))
    if problems:
        raise ImportProblems(sorted(problems, key=lambda p: p.row))
    # Observer invitations only (self is not a rater group here), checked above: one flush.
    invitations = [
        Invitation(
            leader=leader,
            relationship_=relationship,
            rater_name=name,
            rater_email=email,
            language=language,
        )
        for leader, relationship, name, email, language in accepted
    ]
    session.add_all(invitations)
    session.flush()
    audit.record(session, actor, "raters.import", f"cohort:{cohort.slug}", count=len(invitations))
    return invitations


# -- responses (``cl360 responses import``) --------------------------------------------

LEADER_COLUMN = ("leader", "leader_email", "email")
RELATIONSHIP_COLUMN = ("relationship", "rater_group", "group")
NOT_ABLE_TO_RATE_WORDS = frozenset({"", NOT_ABLE_TO_RATE, "n/a"})
PREDICTED_COLUMN = "predicted:{}"
"""Import column of the leader's prediction for a dimension (no item id can contain a colon)."""


@dataclass(frozen=True)
class ImportSummary:
    responses: int
    leaders: int
    by_relationship: dict[str, int]

    def __str__(self) -> str:
        groups = ", ".join(f"{group} {count}" for group, count in self.by_relationship.items())
        return f"imported {self.responses} responses for {self.leaders} leaders" + (
            f" ({groups})" if groups else ""
        )


def import_responses(session: Session, cohort: Cohort, data: bytes, *, actor: str) -> ImportSummary:
    """Check a whole response file, then store every response in it, or raise and store none.

    Raises :class:`ImportProblems` listing every problem, as the leader and rater imports do.
    Only flushes: the caller's transaction commits (or, on any error, rolls back).
    """
    instrument = cohort_instrument(cohort)
    columns: dict[str, tuple[str, ...]] = {
        "leader": LEADER_COLUMN,
        "relationship": RELATIONSHIP_COLUMN,
    }
    columns |= {item.id: (item.id,) for item in instrument.items}
    columns |= {question.id: (question.id,) for question in instrument.open_questions}
    columns |= {(name := PREDICTED_COLUMN.format(d.id)): (name,) for d in instrument.dimensions}
    items = [item.id for item in instrument.items]
    rows = CsvRows(
        data,
        columns,
        ("leader", "relationship", *items),
        unknown="not an item, open question or predicted:<dimension> id",
        missing=dict.fromkeys(items, "every item needs a column (blank cells: not able to rate)"),
        whole_rows=True,  # a left-out cell would read as "not able to rate"
        max_rows=None,
    )
    leaders = {
        email.lower(): leader_id
        for leader_id, email in session.execute(
            select(Leader.id, Leader.email).where(Leader.cohort_id == cohort.id)
        )
    }
    has_self = set(
        session.scalars(
            select(Response.leader_id)
            .join(Leader, Leader.id == Response.leader_id)
            .where(Leader.cohort_id == cohort.id, Response.relationship_ == Relationship.SELF)
        )
    )
    parser = _RowParser(instrument, leaders, has_self, rows.problems)
    accepted = [
        response for row in rows if (response := parser.parse(row.number, row.values)) is not None
    ]
    if rows.problems:
        raise ImportProblems(sorted(rows.problems, key=lambda p: p.row))
    store_responses(session, accepted)
    by_relationship = Counter(r.relationship.value for r in accepted)
    summary = ImportSummary(
        responses=len(accepted),
        leaders=len({r.leader_id for r in accepted}),
        by_relationship={
            g.id: by_relationship[g.id] for g in instrument.rater_groups if by_relationship[g.id]
        },
    )
    audit.record(
        session,
        actor,
        "responses.import",
        f"cohort:{cohort.slug}",
        responses=summary.responses,
        leaders=summary.leaders,
        by_relationship=summary.by_relationship,
    )
    return summary


class _RowParser:
    """Turns one row into a :class:`NewResponse`, noting every problem it finds."""

    def __init__(
        self,
        instrument: Instrument,
        leaders: Mapping[str, int],
        has_self: set[int],
        problems: list[RowProblem],
    ) -> None:
        self.instrument = instrument
        self.leaders = leaders
        self.has_self = set(has_self)
        self.groups = [g.id for g in instrument.rater_groups]
        self.points = instrument.scale.points
        self.allowed = {str(p): p for p in range(1, self.points + 1)}
        self.problems = problems

    def _problem(self, row: int, column: str, message: str) -> None:
        self.problems.append(RowProblem(row, column, message))

    def parse(self, row: int, cell: Mapping[str, str]) -> NewResponse | None:
        before = len(self.problems)
        leader_id = self._leader(row, cell["leader"])
        relationship = self._relationship(row, cell["relationship"])
        if relationship == Relationship.SELF and leader_id is not None:
            if leader_id in self.has_self:
                self._problem(row, "relationship", "this leader already has a self-assessment")
            self.has_self.add(leader_id)
        ratings = {
            item.id: self._rating(row, item.id, cell[item.id]) for item in self.instrument.items
        }
        comments = {}
        for question in self.instrument.open_questions:
            text = free_text(cell.get(question.id, ""))
            if len(text) > MAX_COMMENT_LENGTH:
                self._problem(row, question.id, f"longer than {MAX_COMMENT_LENGTH} characters")
            elif text:
                comments[question.id] = text
        predictions = self._predictions(row, cell, relationship)
        if len(self.problems) > before or leader_id is None or relationship is None:
            return None
        return NewResponse(leader_id, relationship, ratings, comments, predictions)

    def _leader(self, row: int, email: str) -> int | None:
        if not email:
            self._problem(row, "leader", "missing: the leader's email address is required")
            return None
        leader_id = self.leaders.get(email.lower())
        if leader_id is None:
            self._problem(row, "leader", f"no leader with email {email!r} in this cohort")
        return leader_id

    def _relationship(self, row: int, value: str) -> Relationship | None:
        if not value:
            self._problem(row, "relationship", f"missing: one of {', '.join(self.groups)}")
            return None
        if value.strip().lower() == Relationship.SELF.value and "self" in self.groups:
            return Relationship.SELF
        relationship = parse_relationship(value, self.groups)
        if relationship is None:
            self._problem(
                row,
                "relationship",
                f"{value!r} is not a rater group of this questionnaire ({', '.join(self.groups)})",
            )
        return relationship

    def _rating(self, row: int, item_id: str, raw: str) -> int | None:
        if raw.lower() in NOT_ABLE_TO_RATE_WORDS:
            if not self.instrument.scale.not_able_to_rate:
                self._problem(
                    row,
                    item_id,
                    "an answer is required: this questionnaire has no 'not able to rate'",
                )
            return None
        return self._point(row, item_id, raw)

    def _predictions(
        self, row: int, cell: Mapping[str, str], relationship: Relationship | None
    ) -> dict[str, int]:
        """The leader's predictions on a self row (blank: none); on any other row, a problem."""
        predictions: dict[str, int] = {}
        for dimension in self.instrument.dimensions:
            column = PREDICTED_COLUMN.format(dimension.id)
            raw = cell.get(column, "")
            if not raw or relationship is None:
                continue
            if relationship != Relationship.SELF:
                self._problem(row, column, "predictions belong on the leader's self-assessment row")
            elif (value := self._point(row, column, raw)) is not None:
                predictions[dimension.id] = value
        return predictions

    def _point(self, row: int, column: str, raw: str) -> int | None:
        """A scale point written as a whole number, or ``None`` and a problem."""
        value = self.allowed.get(raw.lstrip("+"))
        if value is not None:
            return value
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not number.is_integer():  # also "nan" and "inf"
            self._problem(row, column, f"{raw!r} is not a whole number")
            return None
        # A spreadsheet may write a whole number as "4.0": that is still the point 4.
        value = self.allowed.get(str(int(number)))
        if value is None:
            self._problem(row, column, f"{raw} is off the scale (1 to {self.points})")
        return value
