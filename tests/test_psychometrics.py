"""The cohort-level definitions of docs/scoring.md on numbers small enough to check by hand, the
differencing rule on concrete cases, and the purity of the core modules."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from assessment.core.disclosure import exposures, regeneration_responses
from assessment.core.psychometrics import (
    AgreementType,
    Distribution,
    agreement_type,
    cohort_figures,
    cohort_reliability,
    cronbach_alpha,
    mean_absolute_prediction_error,
    percentile_rank,
    reliable_change,
)
from assessment.core.scoring import (
    RaterResponse,
    Rules,
    exposure_minimum,
    score_leader,
    summarise,
)
from tests.builders import tiny_instrument

approx = pytest.approx


def test_cronbach_alpha_by_hand():
    # Items x, y over four responses: x 1 2 3 4 (variance 5/3), y 2 2 4 4 (variance 4/3);
    # totals 3 4 7 8 (variance 17/3). alpha = 2 * (1 - (5/3 + 4/3) / (17/3)) = 2 * 8/17.
    assert cronbach_alpha([[1, 2], [2, 2], [3, 4], [4, 4]]) == approx(16 / 17)
    assert cronbach_alpha([[1, 2]]) is None  # one response
    assert cronbach_alpha([[1], [2]]) is None  # one item
    assert cronbach_alpha([[3, 3], [3, 3]]) is None  # totals that do not vary


def test_alpha_reverses_keyed_items_and_skips_incomplete_responses():
    instrument = tiny_instrument()  # a1..a4 with a3 reverse-keyed; b1, b2

    def observer(a1, a2, a3, a4):
        return RaterResponse("peer", {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "b1": 3, "b2": 3})

    responses = [
        observer(1, 1, 5, 1),  # scored 1 1 1 1
        observer(3, 3, 3, 3),  # 3 3 3 3
        observer(5, 5, 1, 5),  # 5 5 5 5
        observer(5, 5, None, 5),  # a3 not rated: left out of alpha for a
        RaterResponse("self", {"a1": 1, "a2": 5, "a3": 1, "a4": 1, "b1": 1, "b2": 5}),
    ]
    reliability = cohort_reliability(instrument, responses, minimum=3)
    # Perfectly consistent once a3 is reversed: item variances 4 each, totals 4 12 20 -> 64;
    # alpha = 4/3 * (1 - 16/64) = 1.
    assert reliability["a"].n_responses == 3 and reliability["a"].n_items == 4
    assert reliability["a"].alpha == approx(1.0)
    assert reliability["b"].alpha is None  # b1 and b2 never vary: undefined
    assert cohort_reliability(instrument, responses[:2], minimum=3)["a"].alpha is None


def test_mid_rank_percentiles():
    population = sorted([2.0, 3.0, 3.0, 4.0, 5.0])
    assert percentile_rank(2.0, population) == approx(100 * 0.5 / 5)  # 10
    assert percentile_rank(3.0, population) == approx(100 * (1 + 1) / 5)  # 40: two equal
    assert percentile_rank(5.0, population) == approx(100 * 4.5 / 5)  # 90
    # Equal by hand, unequal in binary: still a tie.
    assert percentile_rank(0.1 + 0.2, sorted([0.3, 0.3])) == approx(50)


def test_distribution_and_margin():
    distribution = Distribution.of("a", [3.0, 4.0, 5.0, 6.0])
    assert distribution.mean == 4.5 and distribution.median == 4.5
    assert distribution.sd == approx(math.sqrt(5 / 3))  # squared deviations 5 over n - 1 = 3
    assert distribution.margin == approx(math.sqrt(5 / 3) / 2)
    assert Distribution.of("a", [3.0]).sd is None and Distribution.of("a", []).n == 0


@pytest.mark.parametrize(
    ("self_score", "others", "expected"),
    [
        (4.6, 4.0, AgreementType.OVER_ESTIMATOR),  # 0.6 > margin 0.5
        (3.4, 4.0, AgreementType.UNDER_ESTIMATOR),
        (4.5, 4.0, AgreementType.IN_AGREEMENT_HIGH),  # exactly the margin: in agreement
        (3.0, 3.2, AgreementType.IN_AGREEMENT_LOW),  # Others below the median 3.5
        (3.5, 3.5, AgreementType.IN_AGREEMENT_HIGH),  # at the median: high
    ],
)
def test_agreement_types(self_score, others, expected):
    assert agreement_type(self_score, others, margin=0.5, median=3.5) is expected
    assert expected.meaning


def test_reliable_change_by_hand():
    # S_diff = sqrt(2) * 0.5 * sqrt(1 - 0.84) = 0.282843; RCI = (4.1 - 3.5) / 0.282843 = 2.1213.
    change = reliable_change(now=4.1, before=3.5, sd_before=0.5, alpha_before=0.84)
    assert change.s_diff == approx(math.sqrt(2) * 0.5 * 0.4)
    assert change.rci == approx(0.6 / (math.sqrt(2) * 0.2))
    assert change.reliable and change.difference == approx(0.6)
    assert not reliable_change(3.7, 3.5, 0.5, 0.84).reliable
    assert reliable_change(4.0, 3.0, None, 0.8) is None
    assert reliable_change(4.0, 3.0, 0.5, 1.0) is None  # perfect reliability: S_diff of 0


def test_predicted_views_by_hand():
    instrument = tiny_instrument()  # a1..a4 (a3 reverse-keyed), b1, b2; Others minimum 3

    def peer(a, b):
        return RaterResponse("peer", {"a1": a, "a2": a, "a3": 6 - a, "a4": a, "b1": b, "b2": b})

    responses = {
        # Others a = (4 + 4 + 3) / 3 = 11/3, b = (2 + 3 + 3) / 3 = 8/3.
        "ann": [peer(4, 2), peer(4, 3), peer(3, 3)],
        "ben": [peer(5, 5), peer(4, 4)],  # two observers: Others withheld
    }
    predictions = {"ann": {"a": 4.0, "b": 2.0}, "ben": {"a": 5.0}}
    figures = cohort_figures(instrument, responses, predictions=predictions)
    ann = figures.leaders["ann"].predictions
    assert ann["a"].others == approx(11 / 3) and ann["a"].error == approx(4 - 11 / 3)  # +1/3
    assert ann["b"].error == approx(2 - 8 / 3)  # -2/3
    # Mean absolute error: (1/3 + 2/3) / 2 = 0.5.
    assert figures.leaders["ann"].prediction_error == approx(0.5)
    # Ben's prediction is his own answer and stays; with Others withheld there is no error.
    ben = figures.leaders["ben"]
    assert ben.predictions["a"].predicted == 5.0 and ben.predictions["a"].error is None
    assert ben.prediction_error is None
    assert mean_absolute_prediction_error({}) is None


def test_summarise_conventions():
    stat = summarise([2.0, 4.0], 5)
    assert stat.sd == approx(math.sqrt(2))  # n - 1 = 1
    assert stat.ci_low == approx(3 - 12.706205 * math.sqrt(2) / math.sqrt(2))
    assert stat.rwg == 0.0  # variance 2 against 2 for a uniform 5-point null, floored at 0
    assert stat.raters_disagree


def test_exposure_minimum_of_a_pool():
    rules = Rules({"peer": 5, "manager": 1}, {}, others_minimum=3)
    assert exposure_minimum(["peer", "peer"], rules) == 5  # all peers: the peers' minimum
    assert exposure_minimum(["manager"], rules) == 3  # never below the Others minimum
    assert exposure_minimum(["peer", "other"], rules) == 3  # mixed: like Others


# -- the differencing rule on concrete cases ------------------------------------------------


def full(relationship: str, value: int = 4, **overrides) -> RaterResponse:
    answers = dict.fromkeys(["a1", "a2", "a3", "a4", "b1", "b2"], value) | overrides
    return RaterResponse(relationship, answers)


RELEASED = {
    "m1": full("manager", 3),
    "p1": full("peer", 4),
    "p2": full("peer", 5),
    "p3": full("peer", 2),
    "d1": full("direct_report", 3),
    "d2": full("direct_report", 4),
}


def test_three_new_peers_who_rated_everything_join_the_regenerated_report():
    now = RELEASED | {"p4": full("peer", 1), "p5": full("peer", 5), "p6": full("peer", 3)}
    decision = regeneration_responses(tiny_instrument(), now, [set(RELEASED)])
    assert decision.added == {"p4", "p5", "p6"} and decision.held_back == {}


def test_one_new_peer_waits_until_enough_have_answered():
    now = RELEASED | {"p4": full("peer", 1)}
    decision = regeneration_responses(tiny_instrument(), now, [set(RELEASED)])
    assert decision.unchanged and decision.held_back == {"peer": 1}
    # The released figures are recomputed from exactly the released responses.
    assert decision.response_ids == set(RELEASED)


def test_not_able_to_rate_can_hold_a_group_back():
    # Three new peers, but only one rated b2: the peers' b2 would move by one rater.
    now = RELEASED | {
        "p4": full("peer", 1, b2=None),
        "p5": full("peer", 5),
        "p6": full("peer", 3, b2=None),
    }
    decision = regeneration_responses(tiny_instrument(), now, [set(RELEASED)])
    assert decision.held_back == {"peer": 3}


def test_a_group_appearing_cannot_expose_the_raters_it_hid_before():
    # Released: Others = manager, 3 peers, 2 direct reports; direct reports hidden (2 < 3), the
    # manager's figures withheld as a complement. With three new direct reports the group
    # shows (5) and so does the manager (minimum 1), and the released Others minus its peers
    # minus the manager would give away the two original direct reports: held back.
    instrument = tiny_instrument()
    released = score_leader(instrument, [RELEASED[i] for i in sorted(RELEASED)])
    assert "a" not in next(g for g in released.groups if g.key == "manager").dimensions
    now = RELEASED | {f"d{i}": full("direct_report", i) for i in (3, 4, 5)}
    decision = regeneration_responses(instrument, now, [set(RELEASED)])
    assert decision.unchanged and decision.held_back == {"direct_report": 3}
    everything = [{i: now[i] for i in sorted(RELEASED)}, {i: now[i] for i in sorted(now)}]
    exposed = exposures(instrument, everything)
    assert {frozenset({"d1", "d2"})} <= {e.response_ids for e in exposed}


def test_a_new_self_assessment_always_joins():
    now = RELEASED | {"s1": full("self", 5)}
    decision = regeneration_responses(tiny_instrument(), now, [set(RELEASED)])
    assert decision.added == {"s1"}


def test_a_released_response_that_disappeared_is_refused():
    with pytest.raises(ValueError, match="no longer exist"):
        regeneration_responses(tiny_instrument(), {"m1": RELEASED["m1"]}, [set(RELEASED)])


def test_the_first_report_uses_everything():
    decision = regeneration_responses(tiny_instrument(), RELEASED, [])
    assert decision.response_ids == set(RELEASED) == decision.added


# -- purity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    ["assessment.core.scoring", "assessment.core.psychometrics", "assessment.core.profiles"],
)
def test_core_modules_import_neither_flask_nor_the_database_layer(module):
    code = (
        f"import sys, {module}; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_scoring_is_deterministic_and_does_not_touch_its_input():
    responses = [full("peer", v) for v in (1, 2, 3)] + [full("self", 4)]
    before = [dict(r.answers) for r in responses]
    first = score_leader(tiny_instrument(), responses)
    assert score_leader(tiny_instrument(), responses) == first
    assert [dict(r.answers) for r in responses] == before
    # a3 is reverse-keyed: (1+1+5+1)/4 = 2, (2+2+4+2)/4 = 2.5, (3+3+3+3)/4 = 3 -> mean 2.5
    assert first.others.dimensions["a"].mean == approx(2.5)
