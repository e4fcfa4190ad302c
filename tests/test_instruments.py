"""Instrument files: the shipped questionnaires, and a loader that reports bad files, never crashes.

No Flask and no database: everything here goes through ``assessment.core.instruments`` alone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.core.instruments import (
    Instrument,
    InstrumentError,
    Problem,
    check_files,
    load_instrument,
    parse_instrument,
)

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "instruments" / "compassionate-leadership.v1.yaml"
PULSE = ROOT / "instruments" / "compassionate-leadership-pulse.v1.yaml"
SHIPPED = [FULL, PULSE]
SPANISH = FULL.with_name("compassionate-leadership.v1.es.yaml")
DIMENSIONS = {"purpose": "Purpose", "self_awareness": "Self-awareness", "courage": "Courage"}
GROUP_MINIMUMS = {"self": 1, "manager": 1, "peer": 3, "direct_report": 3, "other": 3}


# -- the shipped instruments -------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_instrument_loads_with_the_three_dimensions(path: Path) -> None:
    instrument = load_instrument(path)

    assert path.name == f"{instrument.id}.v{instrument.version}.yaml"
    assert instrument.language == "en"
    assert instrument.description
    assert {d.id: d.name for d in instrument.dimensions} == DIMENSIONS
    assert instrument.scale.not_able_to_rate
    assert {g.id: g.minimum for g in instrument.rater_groups} == GROUP_MINIMUMS
    assert instrument.group("manager") is not None
    assert instrument.group("manager").label == "Manager"
    assert instrument.thresholds.others == 3
    assert instrument.thresholds.comments == 3
    assert Instrument.from_data(instrument.to_data()) == instrument


def test_full_instrument_has_eight_or_more_items_per_dimension_on_an_agreement_scale() -> None:
    instrument = load_instrument(FULL)

    assert instrument.id == "compassionate-leadership"
    assert instrument.version == 1
    assert instrument.scale.points == 5
    assert instrument.scale.anchors[0] == "Strongly disagree"
    assert instrument.scale.anchors[-1] == "Strongly agree"
    for dimension in DIMENSIONS:
        items = instrument.items_of(dimension)
        assert len(items) >= 8, dimension
        assert sum(item.reverse for item in items) >= 2, dimension
    assert len(instrument.open_questions) == 3


def test_pulse_has_three_items_per_dimension_on_a_seven_point_frequency_scale() -> None:
    instrument = load_instrument(PULSE)

    assert instrument.id == "compassionate-leadership-pulse"
    assert instrument.version == 1
    assert instrument.scale.points == 7
    assert instrument.scale.anchors == [
        "Never",
        "Rarely",
        "Occasionally",
        "Sometimes",
        "Often",
        "Usually",
        "Always",
    ]
    for dimension in DIMENSIONS:
        items = instrument.items_of(dimension)
        assert len(items) == 3, dimension
        assert sum(item.reverse for item in items) >= 1, dimension
    assert 1 <= len(instrument.open_questions) <= 2


def _first_person(text: str) -> bool:
    return text.startswith("I ") or bool(re.search(r"\b(I|my|me)\b", text))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_wordings_are_first_person_for_self_and_name_the_leader_for_observers(
    path: Path,
) -> None:
    instrument = load_instrument(path)

    for item in instrument.items:
        assert _first_person(item.self_text), item.id
        assert "{leader}" not in item.self_text, item.id
        assert "{leader}" in item.observer, item.id
        assert not _first_person(item.observer), item.id
        assert item.text_for("peer", "Sam Rivers").count("Sam Rivers") == 1, item.id
        assert item.self_text.endswith(".") and item.observer.endswith("."), item.id
    for question in instrument.open_questions:
        assert _first_person(question.self_text), question.id
        assert "{leader}" in question.observer, question.id
        assert question.self_text.endswith("?") and question.observer.endswith("?")


@pytest.mark.parametrize("path", [*SHIPPED, SPANISH], ids=lambda p: p.name)
def test_shipped_reverse_scored_statements_are_restated_for_results(path: Path) -> None:
    """A result beside "looks for someone to blame" would praise bad behaviour: every shipped
    reverse-scored statement says what its high score means, naming the leader."""
    instrument = load_instrument(path)
    reversed_items = [item for item in instrument.items if item.reverse]
    assert reversed_items
    for item in reversed_items:
        assert item.restated is not None, item.id
        assert item.result_text("Ada") != item.observer_text("Ada")
        assert item.asked_text("Ada") == item.observer_text("Ada")
    for item in instrument.items:
        if not item.reverse:
            assert item.result_text("Ada") == item.observer_text("Ada")
            assert item.asked_text("Ada") is None


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_wordings_use_british_spelling(path: Path) -> None:
    text = path.read_text(encoding="utf-8").lower()

    for american in ("judgment", "behavior", "organization", "recognize", "realize", "center"):
        assert american not in text


def test_the_example_in_the_documentation_is_a_valid_instrument() -> None:
    docs = (ROOT / "docs" / "instruments.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", docs, re.DOTALL)
    assert example is not None

    instrument = parse_instrument(example.group(1).encode(), "docs example")

    assert instrument.key == "listening-pulse@1"
    assert [item.reverse for item in instrument.items] == [False, True]


# -- bad files ---------------------------------------------------------------------------------


def _minimal() -> dict[str, Any]:
    return {
        "id": "tiny",
        "version": 1,
        "title": "Tiny",
        "language": "en",
        "scale": {"points": 3, "anchors": ["Low", "Middle", "High"]},
        "dimensions": [
            {"id": "purpose", "name": "Purpose", "description": "What the leadership is for."}
        ],
        "items": [
            {
                "id": "explains_why",
                "dimension": "purpose",
                "self": "I explain why the work matters.",
                "observer": "{leader} explains why the work matters.",
            },
            {
                "id": "counts_things",
                "dimension": "purpose",
                "self": "I judge success by the figures.",
                "observer": "{leader} judges success by the figures.",
                "reverse": True,
            },
        ],
        "rater_groups": [
            {"id": "self", "label": "Self", "minimum": 1},
            {"id": "peer", "label": "Peers", "minimum": 3},
        ],
    }


def _dumped(change: Callable[[dict[str, Any]], object]) -> bytes:
    """The minimal instrument with one change, as YAML bytes."""
    data = _minimal()
    change(data)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def _set(data: dict[str, Any], path: tuple[str | int, ...], value: object) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def test_the_minimal_instrument_used_below_is_valid() -> None:
    instrument = parse_instrument(_dumped(lambda d: None), "tiny.yaml")

    assert instrument.summary().startswith("tiny@1 'Tiny' (en): 2 items (Purpose 2)")


BAD_FILES = [
    pytest.param(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "(file)", "not UTF-8 text (byte 0", id="png"
    ),
    pytest.param(b"id: tiny\n\x00\x01\x02\x03", "(file)", "binary data", id="binary"),
    pytest.param(
        b"title: Caf\xe9\n", "(file)", "not UTF-8 text (byte 10 is invalid)", id="latin-1"
    ),
    pytest.param(b"", "(file)", "the file is empty", id="empty"),
    pytest.param(
        b"  \n# only a comment\n\n   # an indented one\n",
        "(file)",
        "the file is empty",
        id="comments",
    ),
    pytest.param(
        b"- id: tiny\n- version: 1\n",
        "(top level)",
        "expected a mapping of fields, found list",
        id="top-level-list",
    ),
    pytest.param(
        b"just some words\n", "(top level)", "expected a mapping of fields, found str", id="str"
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("scale", "points"), "five")),
        "scale.points",
        "valid integer",
        id="points-five",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("scale", "points"), 3.0)),
        "scale.points",
        "valid integer",
        id="points-float",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 1, "reverse"), "yes")),
        "items[1].reverse",
        "valid boolean",
        id="reverse-yes",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("rater_groups", 1, "minimum"), 0)),
        "rater_groups[1].minimum",
        "greater than or equal to 1",
        id="minimum-0",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("rater_groups", 1, "id"), "friend")),
        "rater_groups[1].id",
        "'self', 'manager', 'peer', 'direct_report' or 'other'",
        id="unknown-group",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 1, "restated"), "Counts what matters.")),
        "items[1].restated",
        "restated wording must name the leader with {leader}",
        id="restated-without-the-leader",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 0, "restated"), "{leader} explains why.")),
        "items[0]",
        "restated gives the positive wording of a reverse-scored statement; this one is not",
        id="restated-but-not-reversed",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 1, "id"), "explains_why")),
        "(top level)",
        "duplicate id 'explains_why' in items",
        id="duplicate-item-id",
    ),
    pytest.param(
        _dumped(lambda d: d["dimensions"].append(dict(d["dimensions"][0]))),
        "(top level)",
        "duplicate id 'purpose' in dimensions",
        id="duplicate-dimension-id",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 1, "dimension"), "kindness")),
        "(top level)",
        "items[1] ('counts_things') is in unknown dimension 'kindness' (known: purpose)",
        id="unknown-dimension",
    ),
    pytest.param(
        _dumped(
            lambda d: d["dimensions"].append({"id": "courage", "name": "C", "description": "C"})
        ),
        "(top level)",
        "dimension 'courage' has no items",
        id="empty-dimension",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("scale",), {"points": 1, "anchors": ["Only"]})),
        "scale.points",
        "greater than or equal to 2",
        id="one-point-scale",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("scale", "anchors"), ["Low", "High"])),
        "scale",
        "anchors has 2 labels but the scale has 3 points",
        id="anchor-count",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 0, "observer"), "The leader explains why.")),
        "items[0].observer",
        "observer wording must name the leader with {leader}",
        id="no-placeholder",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("items", 0, "observor"), "{leader} explains.")),
        "items[0].observor",
        "unknown field",
        id="unknown-field",
    ),
    pytest.param(
        _dumped(lambda d: d.pop("title")), "title", "required field is missing", id="no-title"
    ),
    pytest.param(
        _dumped(lambda d: d["items"][0].pop("self")),
        "items[0].self",
        "required field is missing",
        id="no-self-wording",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("version",), 2**40)),
        "version",
        "less than or equal to 2147483647",
        id="huge-version",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, ("language",), False)),
        "language",
        "valid string",
        id="language-no",
    ),
    pytest.param(
        _dumped(lambda d: _set(d, (1,), "one")),
        "(top level)",
        "field name 1 is not text",
        id="number-as-field-name",
    ),
    pytest.param(
        b"id: tiny\nversion: 1\n  title: bad indent\n",
        "line 3, column 8",
        "invalid YAML: mapping values are not allowed here",
        id="yaml-syntax",
    ),
    pytest.param(
        b'id: tiny\ntitle: "unclosed\n',
        "line 3, column 1",
        "invalid YAML: while scanning a quoted scalar, found unexpected end of stream",
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        b"id: tiny\n---\nid: other\n",
        "line 2, column 1",
        "expected a single document in the stream, but found another document",
        id="two-documents",
    ),
    pytest.param(
        b"id: tiny\nversion: 1\ntitle: One\ntitle: Two\n",
        "line 4, column 1",
        "invalid YAML: duplicate key 'title' (first given on line 3)",
        id="duplicate-key",
    ),
    pytest.param(
        b"items:\n  - id: a\n    observer: one\n    observer: two\n",
        "line 4, column 5",
        "duplicate key 'observer' (first given on line 3)",
        id="duplicate-nested-key",
    ),
    pytest.param(
        b"id: !!python/object/apply:os.system [echo hello]\n",
        "line 1, column 5",
        "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply",
        id="python-tag",
    ),
    pytest.param(
        b"version: 2020-13-45\n",
        "line 1, column 10",
        "cannot read '2020-13-45' as !!timestamp (month must be in 1..12)",
        id="impossible-date",
    ),
    pytest.param(
        b"version: !!int ten\n", "line 1, column 10", "cannot read 'ten' as !!int", id="int-tag"
    ),
    pytest.param(
        b"reverse: !!bool maybe\n",
        "line 1, column 10",
        "cannot read 'maybe' as !!bool",
        id="bool-tag",
    ),
    pytest.param(
        b"version: " + b"9" * 5000 + b"\n",
        "line 1, column 10",
        "as !!int (Exceeds the limit",
        id="5000-digit-number",
    ),
    pytest.param(
        b"id: " + b"[" * 100 + b"]" * 100 + b"\n",
        "line 1, column 54",
        "nested more than 50 levels deep",
        id="deep-nesting",
    ),
    pytest.param(
        b"title: bell\x07\n",
        "line 1, column 12",
        "unacceptable character #x0007",
        id="control-character",
    ),
]


@pytest.mark.parametrize(("content", "place", "fragment"), BAD_FILES)
def test_a_bad_file_gets_one_problem_naming_the_file_the_place_and_what_is_wrong(
    tmp_path: Path, content: bytes, place: str, fragment: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)

    with pytest.raises(InstrumentError) as raised:
        load_instrument(path)

    problems = raised.value.problems
    assert [(p.source, p.place) for p in problems] == [(str(path), place)]
    assert fragment in problems[0].message
    lines, all_valid = check_files([path])
    assert not all_valid
    assert lines == [str(problems[0])]
    assert lines[0].startswith(f"{path}: {place}: ")
    assert "\n" not in lines[0]


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    def break_three_fields(data: dict[str, Any]) -> None:
        data.pop("title")
        data["scale"]["points"] = "five"
        data["items"][1]["reverse"] = "yes"

    path = tmp_path / "three.yaml"
    path.write_bytes(_dumped(break_three_fields))

    with pytest.raises(InstrumentError) as raised:
        load_instrument(path)

    assert [p.place for p in raised.value.problems] == ["title", "scale.points", "items[1].reverse"]


def test_yaml_merge_keys_may_be_overridden_without_counting_as_duplicates() -> None:
    data = _minimal()
    text = yaml.safe_dump(data, sort_keys=False).replace(
        "scale:\n", "base: &base {points: 2, anchors: [a, b]}\nscale:\n  <<: *base\n", 1
    )

    with pytest.raises(InstrumentError) as raised:
        parse_instrument(text.encode(), "merge.yaml")

    # Only the helper field is wrong; the merge and its overridden keys are accepted.
    assert [(p.place, p.message) for p in raised.value.problems] == [("base", "unknown field")]


def test_a_missing_file_or_a_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"

    for path, message in [
        (missing, "No such file or directory"),
        (tmp_path, "a directory, not an instrument file"),
        (Path("/dev/null"), "a device, pipe or socket, not an instrument file"),
        (Path("bad\x00name.yaml"), "embedded null byte"),
    ]:
        with pytest.raises(InstrumentError) as raised:
            load_instrument(path)
        assert raised.value.problems == [Problem(str(path), "(file)", message)]


# -- check_files, behind `cl360 instruments check` ---------------------------------------------


def test_check_files_prints_a_summary_per_good_file_and_every_problem_of_the_others(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(_dumped(lambda d: (d.pop("title"), d["items"][0].pop("observer"))))
    missing = tmp_path / "missing.yaml"

    lines, all_valid = check_files([FULL, bad, missing, tmp_path, PULSE])

    assert not all_valid
    assert lines == [
        f"{FULL}: ok: compassionate-leadership@1 'Compassionate Leadership 360' (en): "
        "27 items (Purpose 9, Self-awareness 9, Courage 9), 5-point scale, 3 open questions",
        f"{bad}: title: required field is missing",
        f"{bad}: items[0].observer: required field is missing",
        f"{missing}: (file): No such file or directory",
        f"{tmp_path}: (file): a directory, not an instrument file",
        f"{PULSE}: ok: compassionate-leadership-pulse@1 'Compassionate Leadership Pulse' (en): "
        "9 items (Purpose 3, Self-awareness 3, Courage 3), 7-point scale, 2 open questions",
    ]


def test_check_files_is_all_valid_only_when_every_file_is() -> None:
    lines, all_valid = check_files(SHIPPED)

    assert all_valid
    assert [line.split(": ok: ")[0] for line in lines] == [str(p) for p in SHIPPED]
    assert check_files([]) == ([], True)


# -- whatever the bytes, InstrumentError or an Instrument --------------------------------------

FIELD_NAMES = [
    "id",
    "version",
    "title",
    "language",
    "description",
    "scale",
    "points",
    "anchors",
    "not_able_to_rate",
    "dimensions",
    "name",
    "items",
    "dimension",
    "self",
    "observer",
    "reverse",
    "open_questions",
    "rater_groups",
    "label",
    "minimum",
    "thresholds",
    "others",
    "comments",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["{leader} helps.", "I help.", "self", "peer", "purpose", "en"])
)
json_like = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)
YAML_TOKENS = [
    *"abc019-_:,[]{}?!&*#|>'\"%@` \t\n",
    "\n  ",
    "- ",
    ": ",
    "? ",
    "<<: ",
    "&a ",
    "*a",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!str ",
    "!!null ",
    "!!timestamp ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!pairs ",
    "!!seq ",
    "!!map ",
    "!!python/tuple ",
    "!local ",
    "2020-13-45",
    "0x",
    "0o",
    "1_000",
    "1:30",
    ".inf",
    ".nan",
    "~",
    "yes",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "\\u00e9",
    "\\ud800",
    "é",
    "\u2028",
    "\ufeff",
]
yaml_ish_text = st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join)


@st.composite
def minimal_with_one_part_replaced(draw: st.DrawFn) -> bytes:
    """The minimal instrument with one field, at any depth, replaced by arbitrary data."""
    data = _minimal()
    paths: list[tuple[str | int, ...]] = []

    def walk(node: object, path: tuple[str | int, ...]) -> None:
        if path:
            paths.append(path)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, index))

    walk(data, ())
    target = draw(st.sampled_from(paths))
    _set(data, target, copy.deepcopy(draw(json_like)))
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def _loads_or_reports(raw: bytes) -> None:
    try:
        instrument = parse_instrument(raw, "fuzz.yaml")
    except InstrumentError as error:
        assert error.problems
        for problem in error.problems:
            line = str(problem)
            assert line.startswith("fuzz.yaml: ")
            assert "\n" not in line
            line.encode("utf-8")  # printable in a UTF-8 terminal
    else:
        assert isinstance(instrument, Instrument)
        instrument.summary()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=500))
def test_arbitrary_bytes_load_or_give_problems(raw: bytes) -> None:
    _loads_or_reports(raw)


@settings(max_examples=200, deadline=None)
@given(yaml_ish_text)
def test_arbitrary_yaml_like_text_loads_or_gives_problems(text: str) -> None:
    _loads_or_reports(text.encode("utf-8", errors="surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(json_like)
def test_arbitrary_yaml_documents_load_or_give_problems(data: object) -> None:
    _loads_or_reports(yaml.safe_dump(data, allow_unicode=True).encode("utf-8", "surrogatepass"))


@settings(max_examples=200, deadline=None)
@given(minimal_with_one_part_replaced())
def test_an_instrument_with_any_part_replaced_loads_or_gives_problems(raw: bytes) -> None:
    _loads_or_reports(raw)


def test_an_unchanged_folder_is_parsed_once_and_an_edit_is_seen(tmp_path):
    import os
    import shutil

    from assessment.config import PROJECT_ROOT
    from assessment.core.instruments import discover_instruments

    source = PROJECT_ROOT / "instruments" / "compassionate-leadership-pulse.v1.yaml"
    copy = tmp_path / "pulse.yaml"
    shutil.copy(source, copy)
    (first,), _ = discover_instruments(tmp_path)
    (again,), _ = discover_instruments(tmp_path)
    assert again is first  # the same object: not parsed a second time
    copy.write_text(copy.read_text().replace("title:", "title: Edited", 1))
    os.utime(copy, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns + 10**9))
    (edited,), _ = discover_instruments(tmp_path)
    assert edited is not first and edited.title.startswith("Edited")
