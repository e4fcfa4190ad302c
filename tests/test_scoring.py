"""Scoring against numbers worked out by hand, and the anonymity rules (docs/anonymity.md)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assessment.core.instruments import Instrument
from assessment.core.scoring import (
    COMBINED,
    RaterResponse,
    Rules,
    Stat,
    _Layout,
    _new_stat,
    score_leader,
    summarise,
)
from tests.builders import tiny_instrument

approx = pytest.approx


def rater(relationship: str, a1, a2, a3, a4, b1, b2) -> RaterResponse:
    return RaterResponse(relationship, {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "b1": b1, "b2": b2})


N = None  # "not able to rate"
# Raw answers. a3 is reversed: a raw r scores 6 - r.
SELF = rater("self", 4, 5, 2, 4, 2, N)  # a: (4+5+4+4)/4 = 4.25; b: only b1 of 2 -> half -> 2.0
MANAGER = rater("manager", 3, 4, 3, 2, 4, 4)  # a: (3+4+3+2)/4 = 3.0;   b: 4.0
PEER_1 = rater("peer", 4, 4, 1, 3, 5, 4)  # a: (4+4+5+3)/4 = 4.0;   b: 4.5
PEER_2 = rater("peer", 3, 3, 2, N, 3, N)  # a: (3+3+4)/3 = 3.3333; b: 3.0 (1 of 2 is half)
PEER_3 = rater("peer", N, N, N, 2, 2, 3)  # a: 1 of 4 answered, below half -> no a; b: 2.5
REPORT_1 = rater("direct_report", 5, 4, 1, 4, 4, 5)  # a: (5+4+5+4)/4 = 4.5; b: 4.5
REPORT_2 = rater("direct_report", 2, 3, 4, 3, 2, 2)  # a: (2+3+2+3)/4 = 2.5; b: 2.0
COHORT = [SELF, MANAGER, PEER_1, PEER_2, PEER_3, REPORT_1, REPORT_2]


@pytest.fixture
def scores():
    return score_leader(tiny_instrument(), COHORT)


def test_self_scores_apply_reverse_keying_and_the_half_rule(scores):
    assert scores.self_scores.dimensions["a"].mean == approx(4.25)
    assert scores.self_scores.dimensions["b"].mean == approx(2.0)
    assert scores.self_scores.items["a3"].mean == 4.0  # raw 2 on a reversed item


def test_others_pool_every_observer_who_answered_half_a_dimension(scores):
    a = scores.others.dimensions["a"]
    # PEER_3 answered 1 of 4 items of a: left out. 3.0 + 4.0 + 3.3333 + 4.5 + 2.5 = 17.3333
    assert a.n == 5
    assert a.mean == approx((3.0 + 4.0 + 10 / 3 + 4.5 + 2.5) / 5)
    b = scores.others.dimensions["b"]
    assert b.n == 6
    assert b.mean == approx((4.0 + 4.5 + 3.0 + 2.5 + 4.5 + 2.0) / 6)  # 20.5 / 6 = 3.416667


def test_spread_interval_and_agreement_by_hand(scores):
    b = scores.others.dimensions["b"]
    values = [4.0, 4.5, 3.0, 2.5, 4.5, 2.0]
    mean = 20.5 / 6
    variance = sum((v - mean) ** 2 for v in values) / (6 - 1)  # 5.708333 / 5 = 1.141667
    assert b.sd == approx(math.sqrt(variance))  # 1.068488
    t_975_5 = 2.570582  # t distribution, 5 degrees of freedom, two-sided 95%
    half_width = t_975_5 * math.sqrt(variance) / math.sqrt(6)  # 1.121301
    assert b.ci_low == approx(mean - half_width, abs=1e-5)  # 2.295366
    assert b.ci_high == approx(mean + half_width, abs=1e-5)  # 4.537968
    # r_wg = 1 - variance / ((A^2 - 1) / 12) with A = 5 points: 1 - 1.141667 / 2 = 0.429167
    assert b.rwg == approx(1 - variance / 2)
    assert b.raters_disagree


def test_item_scores_count_only_raters_who_rated_the_item(scores):
    a3 = scores.others.items["a3"]  # raw 3,1,2,-,1,4 reversed -> 3,5,4,5,2
    assert (a3.n, a3.mean) == (5, approx(19 / 5))
    b2 = scores.others.items["b2"]  # 4,4,-,3,5,2
    assert (b2.n, b2.mean) == (5, approx(18 / 5))


def test_gaps_blind_spots_and_hidden_strengths(scores):
    assert scores.dimension_gaps["a"] == approx(4.25 - 17.3333333 / 5)
    assert scores.dimension_gaps["b"] == approx(2.0 - 20.5 / 6)
    # a2: self 5 vs Others (4+4+3+4+3)/5 = 3.6 -> +1.4; a4: 4 vs (2+3+2+4+3)/5 = 2.8 -> +1.2
    assert [(f.item_id, round(f.gap, 4)) for f in scores.blind_spots] == [("a2", 1.4), ("a4", 1.2)]
    # b1 would be a hidden strength (self 2 vs (4+5+3+2+4+2)/6 = 3.3333), but Others' b1 is
    # withheld: peer 2 rated b1 only, so b's figure minus half of b1's and b2's would be half
    # of peer 2's b1 alone.
    assert scores.hidden_strengths == []
    assert scores.others.withheld_figures["item:b1"].code == "partial_answers"
    assert "b2" not in scores.item_gaps  # self chose "not able to rate"


def test_group_below_minimum_is_withheld_but_counts_in_others(scores):
    assert [g.key for g in scores.groups] == ["manager", "peer"]
    (withheld,) = scores.withheld
    assert (withheld.group, withheld.n, withheld.minimum) == ("direct_report", 2, 3)
    assert scores.response_counts["others"] == 6


def test_figure_below_minimum_is_withheld_within_a_shown_group(scores):
    peers = next(g for g in scores.groups if g.key == "peer")
    assert "a" not in peers.dimensions  # only PEER_1 and PEER_2 count for a: 2 < 3
    assert peers.withheld_figures["dimension:a"].n == 2
    assert peers.dimensions["b"].mean == approx((4.5 + 3.0 + 2.5) / 3)
    assert "b2" not in peers.items  # two peers rated it


def test_differencing_within_a_report_is_blocked(scores):
    """Others b (6 raters) - peers b (3) - manager b (1) would expose the 2 direct reports."""
    manager = next(g for g in scores.groups if g.key == "manager")
    assert "b" not in manager.dimensions
    assert "differencing" in manager.withheld_figures["dimension:b"].reason or "subtraction" in (
        manager.withheld_figures["dimension:b"].reason
    )
    # For a, peers are withheld anyway, so Others (5) - manager (1) leaves 4 hidden: safe.
    assert manager.dimensions["a"].mean == 3.0
    assert manager.items["a1"].mean == 3.0
    assert "b1" not in manager.items


def test_too_few_observers_shows_no_observer_score_and_no_comments():
    scores = score_leader(tiny_instrument(), [SELF, MANAGER, PEER_1])
    assert scores.others is None and scores.groups == []
    assert not scores.comments_allowed
    assert scores.withheld[0].group == "others"
    assert scores.dimension_gaps == {} and scores.blind_spots == []
    assert scores.self_scores.dimensions["a"].mean == approx(4.25)


def test_peers_and_direct_reports_combine_when_each_is_too_small():
    scores = score_leader(tiny_instrument(), [SELF, PEER_1, PEER_2, REPORT_1, REPORT_2])
    assert [g.key for g in scores.groups] == [COMBINED]
    combined = scores.groups[0]
    assert combined.n_raters == 4 and combined.label == "Peers and Direct reports"
    assert combined.dimensions["b"].mean == approx((4.5 + 3.0 + 4.5 + 2.0) / 4)
    assert scores.withheld == []


def test_comment_minimum_can_be_raised_per_cohort():
    instrument = tiny_instrument()
    rules = Rules.from_instrument(instrument, comments_minimum=7)
    assert not score_leader(instrument, COHORT, rules).comments_allowed
    assert score_leader(instrument, COHORT).comments_allowed


def test_single_value_has_no_spread():
    stat = summarise([3.0], 5)
    assert (stat.n, stat.mean, stat.sd, stat.ci_low, stat.rwg) == (1, 3.0, None, None, None)


# -- the remembered paths equal the plain ones ---------------------------------------------


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    """Instruments of one to three dimensions of one to four statements, any reverse-keyed."""
    reverse = draw(
        st.lists(st.lists(st.booleans(), min_size=1, max_size=4), min_size=1, max_size=3)
    )
    points = draw(st.sampled_from([4, 5, 7]))
    return Instrument.model_validate(
        {
            "id": "drawn", "version": 1, "title": "Drawn", "language": "en",
            "scale": {"points": points, "anchors": [str(p) for p in range(1, points + 1)]},
            "dimensions": [
                {"id": f"d{d}", "name": f"D{d}", "description": "a capability"}
                for d in range(len(reverse))
            ],
            "items": [
                {"id": f"d{d}i{i}", "dimension": f"d{d}", "self": "I do it",
                 "observer": "{leader} does it", "reverse": flag}
                for d, flags in enumerate(reverse)
                for i, flag in enumerate(flags)
            ],
            "rater_groups": tiny_instrument().model_dump(by_alias=True)["rater_groups"],
        }
    )  # fmt: skip


def _fields(layout: _Layout) -> list[object]:
    """The layout's fields as plain lists, so two layouts compare by value."""

    def plain(value: object) -> object:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, tuple):
            return [plain(part) for part in value]
        return value

    return [plain(getattr(layout, field.name)) for field in dataclasses.fields(layout)]


@settings(max_examples=60, deadline=None)
@given(st.lists(instruments(), min_size=1, max_size=70))
def test_the_remembered_layout_is_the_built_one(drawn: list[Instrument]):
    """Many instruments in turn (past the memo's bound), some equal but distinct objects."""
    for instrument in [
        *drawn,
        *(Instrument.model_validate(i.model_dump(by_alias=True)) for i in drawn),
    ]:
        assert _fields(_Layout.of(instrument)) == _fields(_Layout.build(instrument))
        assert _Layout.of(instrument) is _Layout.of(instrument)


@given(
    st.tuples(
        st.integers(0, 500),
        *[st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))] * 5,
    )
)
def test_the_quick_stat_is_the_plain_one(values: tuple):
    quick, plain = _new_stat(values), Stat(*values)
    assert type(quick) is Stat and quick._asdict().keys() == plain._asdict().keys()
    assert [repr(v) for v in quick] == [repr(v) for v in plain]
