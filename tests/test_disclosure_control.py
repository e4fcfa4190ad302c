"""No combination of the figures one disclosure shows isolates fewer raters than the minimum
that protects them (docs/anonymity.md, "Inside one disclosure").

The test plays the adversary. Every figure shown is an n x mean: a linear function of the
raters' scored answers (a capability's figure weighs each counted rater's answers by 1 over
how many of its statements they answered). Stacking those functions gives a matrix; a rater's
answer, their capability score, or the pooled value of a few raters, can be worked out from the
figures exactly when its function lies in the matrix's row space. That is decided here in exact
rational arithmetic (Python's fractions, reduced row echelon form), never floating point.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from fractions import Fraction

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from assessment.core.instruments import OBSERVER_GROUPS, Instrument
from assessment.core.scoring import (
    COMBINED,
    OTHERS,
    RaterResponse,
    Rules,
    exposure_minimum,
    score_leader,
)

Vector = dict[tuple[int, str], Fraction]
"""A linear function of the answers: (response index, item id) -> coefficient."""


def instrument_of(dimensions: list[list[bool]], minimums: dict[str, int], others: int):
    """An instrument with the given dimensions (each a list of its items' reverse flags)."""
    items = [
        {
            "id": f"d{d}i{i}",
            "dimension": f"d{d}",
            "self": f"I d{d}i{i}",
            "observer": f"{{leader}} d{d}i{i}",
            "reverse": reverse,
        }
        for d, flags in enumerate(dimensions)
        for i, reverse in enumerate(flags)
    ]
    return Instrument.model_validate(
        {
            "id": "adversary", "version": 1, "title": "Adversary", "language": "en",
            "scale": {"points": 5, "anchors": ["1", "2", "3", "4", "5"]},
            "dimensions": [
                {"id": f"d{d}", "name": f"D{d}", "description": "a capability"}
                for d in range(len(dimensions))
            ],
            "items": items,
            "rater_groups": [{"id": "self", "label": "Self", "minimum": 1}]
            + [{"id": g, "label": g.title(), "minimum": minimums[g]} for g in OBSERVER_GROUPS],
            "thresholds": {"others": others, "comments": max(3, others)},
        }
    )  # fmt: skip


def members(key: str) -> tuple[str, ...]:
    if key == OTHERS:
        return OBSERVER_GROUPS
    if key == COMBINED:
        return ("peer", "direct_report")
    return (key,)


def shown_functions(instrument: Instrument, responses: list[RaterResponse], rules: Rules):
    """Every n x mean the scores show for observers, as linear functions of the answers."""
    scores = score_leader(instrument, responses, rules)
    functions: list[Vector] = []
    for group in scores.shown:
        rows = [
            r for r, response in enumerate(responses) if response.relationship in members(group.key)
        ]
        for item_id, stat in group.items.items():
            answering = [r for r in rows if responses[r].answers.get(item_id) is not None]
            assert len(answering) == stat.n
            functions.append({(r, item_id): Fraction(1) for r in answering})
        for dimension in instrument.dimensions:
            if dimension.id not in group.dimensions:
                continue
            ids = [i.id for i in instrument.items_of(dimension.id)]
            vector: Vector = {}
            counted = 0
            for r in rows:
                mine = [i for i in ids if responses[r].answers.get(i) is not None]
                if mine and 2 * len(mine) >= len(ids):
                    counted += 1
                    vector.update({(r, i): Fraction(1, len(mine)) for i in mine})
            assert counted == group.dimensions[dimension.id].n
            functions.append(vector)
    return functions


def protected_sets(
    responses: list[RaterResponse], rules: Rules, shown_groups: set[str]
) -> Iterator[tuple[int, ...]]:
    """Every set of one or two observers too few to be known together: any value computed
    from their answers alone is protected. A group shown on its own may be known at its own
    minimum (a manager group of 2 configured to 2); any other pool needs
    :func:`~assessment.core.scoring.exposure_minimum`."""
    observers = [
        r
        for r, response in enumerate(responses)
        if response.relationship != "self" and rules.minimum(response.relationship) > 1
    ]

    def needed(subset: tuple[int, ...]) -> int:
        kinds = {responses[r].relationship for r in subset}
        if len(kinds) == 1 and (kind := next(iter(kinds))) in shown_groups:
            return rules.minimum(kind)
        return exposure_minimum(kinds, rules)

    for subset in itertools.chain(((r,) for r in observers), itertools.combinations(observers, 2)):
        if len(subset) < needed(subset):
            yield subset


def rank(rows: list[list[int]]) -> int:
    """Exact rank of an integer matrix (Gaussian elimination on Python integers)."""
    rows = [list(row) for row in rows if any(row)]
    found = 0
    width = len(rows[0]) if rows else 0
    for column in range(width):
        pivot = next((i for i in range(found, len(rows)) if rows[i][column]), None)
        if pivot is None:
            continue
        rows[found], rows[pivot] = rows[pivot], rows[found]
        top = rows[found]
        for i in range(found + 1, len(rows)):
            factor = rows[i][column]
            if factor:
                row = [a * top[column] - b * factor for a, b in zip(rows[i], top, strict=True)]
                divisor = math.gcd(*row) or 1
                rows[i] = [value // divisor for value in row]
        found += 1
    return found


def integer_matrix(functions: list[Vector]) -> tuple[list[list[int]], list[tuple[int, str]]]:
    columns = sorted({key for function in functions for key in function})
    position = {key: index for index, key in enumerate(columns)}
    matrix = []
    for function in functions:
        scale = math.lcm(*(value.denominator for value in function.values()))
        row = [0] * len(columns)
        for key, value in function.items():
            row[position[key]] = int(value * scale)
        matrix.append(row)
    return matrix, columns


def isolated(instrument: Instrument, responses: list[RaterResponse], rules: Rules) -> list[str]:
    shown = {g.key for g in score_leader(instrument, responses, rules).groups}
    functions = shown_functions(instrument, responses, rules)
    return isolated_by(functions, responses, rules, shown)


def isolated_by(
    functions: list[Vector],
    responses: list[RaterResponse],
    rules: Rules,
    shown_groups: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    """The sets of raters some combination of ``functions`` isolates: a set S is isolated
    when a combination is non-zero on S's answers and zero on every other protected rater's,
    that is when dropping S's columns lowers the rank. A rater of a group configured to a
    minimum of 1 (a manager shown as they are) is in no protected set, but their answers are
    known only where the figures show them."""
    if not functions:
        return []
    matrix, columns = integer_matrix(functions)

    def without(raters: set[int]) -> int:
        keep = [i for i, (r, _) in enumerate(columns) if r not in raters]
        return rank([[row[i] for i in keep] for row in matrix])

    baseline = rank(matrix)
    return [
        "raters " + " and ".join(map(str, subset))
        for subset in protected_sets(responses, rules, set(shown_groups))
        if without(set(subset)) < baseline
    ]


ANSWER = st.one_of(st.none(), st.integers(1, 5))


@st.composite
def cohorts(draw):
    dimensions = draw(
        st.lists(st.lists(st.booleans(), min_size=2, max_size=4), min_size=1, max_size=2)
    )
    minimums = {
        "manager": draw(st.sampled_from([1, 3])),
        "peer": draw(st.sampled_from([3, 4, 5])),
        "direct_report": draw(st.sampled_from([3, 4])),
        "other": 3,
    }
    others = draw(st.sampled_from([3, 4]))
    instrument = instrument_of(dimensions, minimums, others)
    item_ids = [item.id for item in instrument.items]
    sizes = {
        "self": draw(st.integers(0, 1)),
        "manager": draw(st.integers(0, 1)),
        "peer": draw(st.integers(0, 6)),
        "direct_report": draw(st.integers(0, 5)),
        "other": draw(st.integers(0, 2)),
    }
    skipping = draw(st.sampled_from([0.0, 0.15, 0.35]))
    responses = []
    for relationship, size in sizes.items():
        for _ in range(size):
            answers = {}
            for item_id in item_ids:
                skip = draw(st.floats(0, 1)) < skipping
                answers[item_id] = None if skip else draw(st.integers(1, 5))
            responses.append(RaterResponse(relationship, answers))
    return instrument, responses


def issue_example():
    """Four peers on a two-statement capability, the first reverse-keyed: (c1, c2) answered
    (2, 4), (2, 4), (1, 5) and (4, not able to rate). Showing the capability (n 4, 3.75),
    c1 (n 4, 3.75) and c2 (n 3, 4.333) gives away the fourth peer: 2·4·3.75 − 4·3.75 − 3·4.333
    is their score, 2."""
    instrument = instrument_of(
        [[True, False]], {"manager": 1, "peer": 3, "direct_report": 3, "other": 3}, 3
    )
    answers = [(2, 4), (2, 4), (1, 5), (4, None)]
    return instrument, [RaterResponse("peer", {"d0i0": a, "d0i1": b}) for a, b in answers]


def test_the_reported_example_isolates_no_one_now():
    instrument, responses = issue_example()
    rules = Rules.from_instrument(instrument)
    assert isolated(instrument, responses, rules) == []
    peers = score_leader(instrument, responses, rules).others
    assert peers.dimensions["d0"].n == 4
    assert len(peers.items) == 1  # one statement withheld, with its reason
    (withheld,) = peers.withheld_figures.values()
    assert withheld.code == "partial_answers" and "skipped statements" in withheld.reason


def test_the_checker_finds_what_the_rules_used_to_show():
    """The adversary is real: with every figure shown, it finds the fourth peer's score."""
    instrument, responses = issue_example()
    capability = {(r, i): Fraction(1, 2) for r in range(3) for i in ("d0i0", "d0i1")}
    figures = [
        {(r, "d0i0"): Fraction(1) for r in range(4)},
        {(r, "d0i1"): Fraction(1) for r in range(3)},
        {**capability, (3, "d0i0"): Fraction(1)},
    ]
    rules = Rules.from_instrument(instrument)
    assert "raters 3" in isolated_by(figures, responses, rules)  # the fourth peer's score
    assert isolated_by(figures[::2], responses, rules) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts())
@example(issue_example())
def test_no_combination_of_shown_figures_isolates_a_rater(cohort):
    instrument, responses = cohort
    rules = Rules.from_instrument(instrument)
    assert isolated(instrument, responses, rules) == []


def test_others_made_of_one_group_too_small_for_itself_is_withheld():
    """Peers need 5, Others 4: four peers and nobody else would be the peers in all but name."""
    minimums = {"manager": 1, "peer": 5, "direct_report": 3, "other": 3}
    instrument = instrument_of([[False, False]], minimums, 4)
    peers = [RaterResponse("peer", {"d0i0": value, "d0i1": 4}) for value in (2, 3, 4, 5)]
    scores = score_leader(instrument, peers, Rules.from_instrument(instrument))
    assert scores.others is None and scores.groups == []
    (withheld,) = scores.withheld
    assert withheld.code == "others_one_group" and withheld.minimum == 5
    assert "fewer than the 5 that group needs" in withheld.reason
    # A fifth observer from elsewhere makes Others a mix: it is shown, the peers are not.
    mixed = score_leader(
        instrument,
        [*peers, RaterResponse("other", {"d0i0": 3, "d0i1": 3})],
        Rules.from_instrument(instrument),
    )
    assert mixed.others.dimensions["d0"].n == 5 and [g.key for g in mixed.groups] == []
