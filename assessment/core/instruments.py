"""Questionnaires as data: the instrument schema, and a loader whose errors say where and what.

An instrument file is YAML (see ``docs/instruments.md``). Loading never raises anything but
:class:`InstrumentError`, whose problems each name the file, the place in it (a dotted path such
as ``dimensions[1].items[3].reverse``) and what is wrong, whatever bytes the file holds.
Nothing here knows about Flask or the database: a cohort stores :meth:`Instrument.to_data`, and
:meth:`Instrument.from_data` turns that frozen copy back into an instrument.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import core_schema


class Relationship(enum.StrEnum):
    """Who a rater is to the leader: the ids instruments give their rater groups, in the order
    scoring numbers them (self first)."""

    SELF = "self"
    MANAGER = "manager"
    PEER = "peer"
    DIRECT_REPORT = "direct_report"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The group's name on the coach's and the leader's pages (an instrument's own labels
        are for its reports)."""
        return _RELATIONSHIP_LABELS[self]


_RELATIONSHIP_LABELS = {
    Relationship.SELF: "The leader (self-assessment)",
    Relationship.MANAGER: "Manager",
    Relationship.PEER: "Peer",
    Relationship.DIRECT_REPORT: "Direct report",
    Relationship.OTHER: "Other colleague",
}

RATER_GROUPS = tuple(r.value for r in Relationship)
OBSERVER_GROUPS = RATER_GROUPS[1:]
IDENTIFIER = r"^[a-z][a-z0-9_-]*$"
LEADER_PLACEHOLDER = "{leader}"

Identifier = Annotated[str, Field(pattern=IDENTIFIER, max_length=80)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Scale(_Strict):
    points: int = Field(ge=2, le=11)
    anchors: list[Text]
    not_able_to_rate: bool = True
    not_able_to_rate_label: Text = "Not able to rate"

    @model_validator(mode="after")
    def _one_anchor_per_point(self) -> Scale:
        if len(self.anchors) != self.points:
            raise ValueError(
                f"anchors has {len(self.anchors)} labels but the scale has {self.points} points"
            )
        return self


class Item(_Strict):
    id: Identifier
    dimension: Identifier
    self_text: Text = Field(alias="self")
    observer: Text
    reverse: bool = False
    restated: Text | None = None
    """For a reverse-scored statement: what a high (reversed) score means, worded positively,
    so that a result reads right beside its figure ("explains why", not "announces without
    saying why"). Results show it; raters are always asked the statement as written."""

    @field_validator("observer", "restated")
    @classmethod
    def _names_the_leader(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and LEADER_PLACEHOLDER not in value:
            raise ValueError(
                f"{info.field_name} wording must name the leader with {LEADER_PLACEHOLDER}"
            )
        return value

    @model_validator(mode="after")
    def _restates_only_reversed(self) -> Item:
        if self.restated is not None and not self.reverse:
            raise ValueError(
                "restated gives the positive wording of a reverse-scored statement; "
                "this one is not reverse-scored"
            )
        return self

    def observer_text(self, leader_name: str) -> str:
        return self.observer.replace(LEADER_PLACEHOLDER, leader_name)

    def result_text(self, leader_name: str) -> str:
        """The statement as results show it: restated positively when it is reverse-scored and
        the instrument says how, so its score reads the right way round (docs/instruments.md)."""
        wording = self.restated if self.restated is not None else self.observer
        return wording.replace(LEADER_PLACEHOLDER, leader_name)

    def asked_text(self, leader_name: str) -> str | None:
        """The statement as raters were asked it, when results show it restated."""
        return self.observer_text(leader_name) if self.restated is not None else None

    def text_for(self, relationship: str, leader_name: str) -> str:
        return self.self_text if relationship == "self" else self.observer_text(leader_name)


class Dimension(_Strict):
    id: Identifier
    name: Text
    description: Text


class OpenQuestion(_Strict):
    id: Identifier
    self_text: Text = Field(alias="self")
    observer: Text

    def text_for(self, relationship: str, leader_name: str) -> str:
        if relationship == "self":
            return self.self_text
        return self.observer.replace(LEADER_PLACEHOLDER, leader_name)


# A plain string that must be one of the relationships, checked as a ``Literal`` of them is: an
# enum field would also take bytes for text, and name its errors differently.
RaterGroupId = Annotated[
    str, GetPydanticSchema(lambda _type, _handler: core_schema.literal_schema(list(RATER_GROUPS)))
]


class RaterGroup(_Strict):
    id: RaterGroupId
    label: Text
    minimum: int = Field(ge=1, le=50)


class Thresholds(_Strict):
    """Anonymity minimums that are not tied to one rater group (docs/anonymity.md)."""

    others: int = Field(default=3, ge=2, le=50)
    comments: int = Field(default=3, ge=3, le=50)


class Instrument(_Strict):
    id: Identifier
    # Bounded so a cohort's frozen copy fits the database's integer column (PostgreSQL INTEGER).
    version: int = Field(ge=1, le=2**31 - 1)
    title: Text
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
    description: Text | None = None
    scale: Scale
    dimensions: list[Dimension] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)
    open_questions: list[OpenQuestion] = Field(default_factory=list)
    rater_groups: list[RaterGroup] = Field(min_length=2)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        _require_unique("dimensions", (d.id for d in self.dimensions))
        _require_unique("items", (i.id for i in self.items))
        _require_unique("open_questions", (q.id for q in self.open_questions))
        _require_unique("rater_groups", (g.id for g in self.rater_groups))
        known = {d.id for d in self.dimensions}
        for index, item in enumerate(self.items):
            if item.dimension not in known:
                raise ValueError(
                    f"items[{index}] ('{item.id}') is in unknown dimension '{item.dimension}'"
                    f" (known: {', '.join(sorted(known))})"
                )
        for dimension in self.dimensions:
            if not self.items_of(dimension.id):
                raise ValueError(f"dimension '{dimension.id}' has no items")
        ids = {g.id for g in self.rater_groups}
        if "self" not in ids:
            raise ValueError("rater_groups must include self")
        if ids == {"self"}:
            raise ValueError("rater_groups must include at least one observer group")
        return self

    # -- derived views ------------------------------------------------------------------
    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def items_of(self, dimension_id: str) -> list[Item]:
        return [item for item in self.items if item.dimension == dimension_id]

    def item(self, item_id: str) -> Item:
        return next(item for item in self.items if item.id == item_id)

    def group(self, group_id: str) -> RaterGroup | None:
        return next((g for g in self.rater_groups if g.id == group_id), None)

    @property
    def observer_groups(self) -> list[RaterGroup]:
        return [g for g in self.rater_groups if g.id != "self"]

    def summary(self) -> str:
        counts = ", ".join(f"{d.name} {len(self.items_of(d.id))}" for d in self.dimensions)
        return (
            f"{self.key} '{self.title}' ({self.language}): {len(self.items)} items ({counts}), "
            f"{self.scale.points}-point scale, {len(self.open_questions)} open questions"
        )

    # -- persistence as plain data ------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "<stored instrument>") -> Instrument:
        return _validate(data, source)


def _require_unique(field: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for identifier in ids:
        if identifier in seen:
            raise ValueError(f"duplicate id '{identifier}' in {field}")
        seen.add(identifier)


@dataclass(frozen=True)
class Problem:
    source: str
    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.place}: {self.message}"


class InstrumentError(Exception):
    """An instrument file could not be loaded; ``problems`` lists every reason found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def load_instrument(path: str | Path) -> Instrument:
    """Read and validate one instrument file."""
    path = Path(path)
    source = str(path)
    # A directory, FIFO or device is refused before reading: a FIFO would block, /dev/zero never ends.
    if path.exists() and not path.is_file():
        what = "a directory" if path.is_dir() else "a device, pipe or socket"
        raise InstrumentError([Problem(source, "(file)", f"{what}, not an instrument file")])
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InstrumentError([Problem(source, "(file)", error.strerror or str(error))]) from None
    except ValueError as error:  # e.g. a NUL character in the path
        raise InstrumentError([Problem(source, "(file)", str(error))]) from None
    return parse_instrument(raw, source)


def check_files(paths: Sequence[Path]) -> tuple[list[str], bool]:
    """The lines ``cl360 instruments check`` prints, and whether every file was valid.

    A summary line per valid file and one ``file: place: message`` line per problem of the
    others; kept apart from the command so it can be tested without a CLI runner.
    """
    lines: list[str] = []
    all_valid = True
    for path in paths:
        try:
            instrument = load_instrument(path)
        except InstrumentError as error:
            all_valid = False
            lines.extend(str(problem) for problem in error.problems)
        else:
            lines.append(f"{path}: ok: {instrument.summary()}")
    return lines, all_valid


MAX_DEPTH = 50
"""Deepest nesting of YAML collections accepted; an instrument needs four levels."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, made to report every bad input as a :class:`yaml.YAMLError`.

    Out of the box it keeps the last of duplicate mapping keys silently (an edited item could
    lose its wording unnoticed), recurses until :class:`RecursionError` on deeply nested
    collections, and lets scalar constructors raise ``ValueError``, ``KeyError`` and the like
    (``2020-13-45``, ``!!bool maybe``, an integer of 5,000 digits).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"nested more than {MAX_DEPTH} levels deep",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call, unused-ignore]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as error:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            value = node.value if isinstance(node, yaml.ScalarNode) else ""
            shown = value if len(value) <= 30 else value[:27] + "..."
            detail = f" ({error})" if type(error) is ValueError else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown!r} as {tag}{detail}", node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            first_seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<" merges are meant to be overridden by the keys beside them
                key = self.construct_object(key_node, deep=True)
                try:
                    line = first_seen.get(key)
                except TypeError:
                    continue  # unhashable: the base class reports it
                if line is not None:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first given on line {line})",
                        key_node.start_mark,
                    )
                first_seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def parse_instrument(raw: bytes, source: str) -> Instrument:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InstrumentError(
            [Problem(source, "(file)", f"not UTF-8 text (byte {error.start} is invalid)")]
        ) from None
    if "\x00" in text:
        raise InstrumentError([Problem(source, "(file)", "binary data, not a YAML document")])
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader: builds plain data only
    except yaml.reader.ReaderError as error:  # its message spans lines; a problem is one line
        line = text.count("\n", 0, error.position) + 1
        column = error.position - text.rfind("\n", 0, error.position)
        reason = f"unacceptable character #x{error.character:04x}: {error.reason}"
        place = f"line {line}, column {column}"
        raise InstrumentError([Problem(source, place, f"invalid YAML: {reason}")]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        reason = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)  # e.g. "while scanning a quoted scalar"
        reason = " ".join((f"{context}, {reason}" if context else reason).split())
        raise InstrumentError([Problem(source, place, f"invalid YAML: {reason}")]) from None
    if data is None:
        raise InstrumentError([Problem(source, "(file)", "the file is empty")])
    if not isinstance(data, dict):
        found = type(data).__name__
        raise InstrumentError(
            [Problem(source, "(top level)", f"expected a mapping of fields, found {found}")]
        )
    return _validate(data, source)


def _validate(data: dict[str, Any], source: str) -> Instrument:
    try:
        return Instrument.model_validate(data)
    except ValidationError as error:
        raise InstrumentError(list(_problems(error, source))) from None


def _problems(error: ValidationError, source: str) -> Iterator[Problem]:
    for detail in error.errors(include_url=False):
        place = _place(detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "missing":
            message = "required field is missing"
        elif detail["type"] == "extra_forbidden":
            message = "unknown field"
        elif detail["type"] == "invalid_key":  # the key is the last part of loc, not a place
            place = _place(detail["loc"][:-1])
            message = f"field name {detail['loc'][-1]!r} is not text"
        yield Problem(source, place, message)


def _place(loc: tuple[int | str, ...]) -> str:
    place = ""
    for part in loc:
        if isinstance(part, int):
            place += f"[{part}]"
        else:
            name = "self" if part == "self_text" else part
            if not name.isprintable():  # an unknown field named "a\nb" must not split the line
                name = repr(name)
            place += f".{name}" if place else name
    return place or "(top level)"


def discover_instruments(folder: Path) -> tuple[list[Instrument], list[Problem]]:
    """Every valid instrument in a folder, and the problems of the invalid ones.

    Each file is parsed once for as long as it is unchanged (same size and modification
    time), so offering the questionnaires on every "new cohort" page costs a directory listing.
    """
    instruments: list[Instrument] = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.y*ml")):
        stat = path.stat()
        instrument, found = _load_unchanged(str(path), stat.st_mtime_ns, stat.st_size)
        if instrument is not None:
            instruments.append(instrument)
        problems.extend(found)
    return instruments, problems


@lru_cache(maxsize=256)
def _load_unchanged(
    path: str, _mtime_ns: int, _size: int
) -> tuple[Instrument | None, tuple[Problem, ...]]:
    """One file's instrument or problems; the cache key includes what changes with its content."""
    try:
        return load_instrument(Path(path)), ()
    except InstrumentError as error:
        return None, tuple(error.problems)


def translation_problems(base: Instrument, translation: Instrument) -> list[str]:
    """Why ``translation`` is not the same questionnaire as ``base`` in another language.

    A translation may change every text, and nothing else: the same id and version, the same
    scale points and "not able to rate" choice, the same dimensions, items (each in the same
    dimension, with the same ``reverse``), open questions, rater groups and minimums, in the
    same order. Then answers in either language pool into one set of scores, item by item.
    """
    problems = []
    if (translation.id, translation.version) != (base.id, base.version):
        problems.append(f"it is {translation.key}, not {base.key}")
    if translation.language == base.language:
        problems.append(f"it has the same language ({base.language})")
    if (translation.scale.points, translation.scale.not_able_to_rate) != (
        base.scale.points,
        base.scale.not_able_to_rate,
    ):
        problems.append("its scale differs")
    shapes: dict[str, Callable[[Instrument], object]] = {
        "dimensions": lambda i: [d.id for d in i.dimensions],
        "items": lambda i: [(x.id, x.dimension, x.reverse) for x in i.items],
        "open questions": lambda i: [q.id for q in i.open_questions],
        "rater groups": lambda i: [(g.id, g.minimum) for g in i.rater_groups],
        "thresholds": lambda i: i.thresholds,
    }
    for what, shape in shapes.items():
        if shape(translation) != shape(base):
            problems.append(f"its {what} differ")
    return problems


def language_variants(instruments: Iterable[Instrument]) -> dict[str, list[Instrument]]:
    """Instruments grouped by id@version: one questionnaire in each of its languages."""
    variants: dict[str, list[Instrument]] = {}
    for instrument in instruments:
        variants.setdefault(instrument.key, []).append(instrument)
    return variants
