"""Anonymity under attack: property-based tests over random cohorts (docs/anonymity.md).

Hypothesis draws group sizes of 0-8 per rater group, "not able to rate" at random rates and
random minimums, and checks what leaves the scoring layer: no figure from fewer raters than its
group's minimum, nothing observer-side when Others is too small, no remainder that subtraction
could expose within a report, and no report regenerated after a release that exposes anyone by
comparison with it. Differencing is checked by an independent formulation (atoms of the pools
that printed figures cover, :func:`assessment.core.disclosure.exposures`) and by the plain wording of
docs/anonymity.md: a figure shown in both reports changes by at least its group's minimum of raters.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assessment.core.disclosure import exposures, regeneration_responses
from assessment.core.instruments import OBSERVER_GROUPS
from assessment.core.psychometrics import cohort_figures
from assessment.core.scoring import (
    COMBINED,
    OTHERS,
    OTHERS_ONE_GROUP,
    LeaderScores,
    RaterResponse,
    ResponseTable,
    Rules,
    score_leader,
    score_leaders,
)
from tests.builders import tiny_instrument

INSTRUMENT = tiny_instrument()
ITEMS = [item.id for item in INSTRUMENT.items]
PROPERTIES = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rules(draw: st.DrawFn) -> Rules:
    return Rules(
        group_minimums={
            "self": 1,
            "manager": draw(st.integers(1, 3)),
            "peer": draw(st.integers(1, 5)),
            "direct_report": draw(st.integers(1, 5)),
            "other": draw(st.integers(1, 5)),
        },
        group_labels={},
        others_minimum=draw(st.integers(2, 5)),
        comments_minimum=draw(st.integers(3, 6)),
    )


def response(relationship: str) -> st.SearchStrategy[RaterResponse]:
    """A rater: each item a scale point or "not able to rate" (None)."""
    answer = st.one_of(st.none(), st.integers(1, 5), st.integers(1, 5))
    values = st.lists(answer, min_size=len(ITEMS), max_size=len(ITEMS))
    return values.map(lambda v: RaterResponse(relationship, dict(zip(ITEMS, v, strict=True))))


@st.composite
def responses(draw: st.DrawFn, most: int = 8) -> list[RaterResponse]:
    found = draw(st.lists(response("self"), max_size=1))
    for group in OBSERVER_GROUPS:
        found += draw(st.lists(response(group), max_size=most))
    return draw(st.permutations(found))


def minimum_of(key: str, rules: Rules) -> int:
    return 1 if key == "self" else rules.minimum(key)


def all_stats(scores: LeaderScores):
    for group in ([scores.self_scores] if scores.self_scores else []) + scores.shown:
        for kind, stats in (("dimension", group.dimensions), ("item", group.items)):
            for figure_id, stat in stats.items():
                yield group, kind, figure_id, stat


@PROPERTIES
@given(responses(), rules())
def test_no_figure_comes_from_fewer_raters_than_its_minimum(given_responses, given_rules):
    scores = score_leader(INSTRUMENT, given_responses, given_rules)
    for group, _, _, stat in all_stats(scores):
        assert stat.n >= minimum_of(group.key, given_rules)
        assert group.n_raters >= minimum_of(group.key, given_rules)
        if stat.n < 2:
            assert stat.sd is None and stat.ci_low is None and stat.rwg is None
    if scores.others:
        assert scores.others.n_raters >= given_rules.others_minimum
        assert all(s.n >= given_rules.others_minimum for s in scores.others.dimensions.values())
    assert all(g.key in (*OBSERVER_GROUPS, COMBINED) for g in scores.groups)


@PROPERTIES
@given(responses(), rules())
def test_too_few_observers_leaves_nothing_observer_side(given_responses, given_rules):
    observers = sum(r.relationship != "self" for r in given_responses)
    kinds = {r.relationship for r in given_responses} - {"self"}
    scores = score_leader(INSTRUMENT, given_responses, given_rules)
    one_small_group = len(kinds) == 1 and observers < given_rules.minimum(next(iter(kinds)))
    if observers >= given_rules.others_minimum and one_small_group:
        # Others would be that one group in all but name (docs/anonymity.md).
        assert scores.others is None and scores.groups == []
        assert [w.code for w in scores.withheld if w.group == OTHERS] == [OTHERS_ONE_GROUP]
        return
    if observers >= given_rules.others_minimum:
        assert scores.others is not None
        assert scores.comments_allowed == (observers >= given_rules.comments_minimum)
        return
    assert scores.others is None and scores.groups == []
    assert not scores.comments_allowed
    assert scores.dimension_gaps == {} and scores.item_gaps == {}
    assert scores.blind_spots == [] and scores.hidden_strengths == []
    assert [w.group for w in scores.withheld] == ([OTHERS] if observers else [])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(responses(most=5), min_size=1, max_size=5), rules())
def test_no_norm_or_type_for_a_leader_whose_others_is_withheld(cohort, given_rules):
    figures = cohort_figures(INSTRUMENT, dict(enumerate(cohort)), given_rules)
    shown = 0
    for key in range(len(cohort)):
        leader = figures.leaders[key]
        if leader.scores.others is None:
            assert leader.others == {} and leader.percentile_cohort == {}
            assert leader.percentile_reference == {} and leader.agreement == {}
            assert leader.change == {}
        else:
            shown += 1
        assert set(leader.agreement) <= set(leader.others)
        assert set(leader.percentile_cohort) == set(leader.others)
    for distribution in figures.distributions.values():
        assert distribution.n <= shown


@PROPERTIES
@given(responses(), rules())
def test_no_remainder_can_be_worked_out_by_subtraction(given_responses, given_rules):
    scores = score_leader(INSTRUMENT, given_responses, given_rules)
    if scores.others is None:
        return
    for kind in ("dimension", "item"):
        others = scores.others.dimensions if kind == "dimension" else scores.others.items
        for figure_id, stat in others.items():
            printed = [
                (g.dimensions if kind == "dimension" else g.items).get(figure_id)
                for g in scores.groups
            ]
            remainder = stat.n - sum(s.n for s in printed if s is not None)
            # A hidden remainder of 1 .. Others minimum - 1 raters would be exposed.
            assert remainder == 0 or remainder >= given_rules.others_minimum
    # The general check: no pool of raters the printed figures isolate is too small.
    report = {str(i): r for i, r in enumerate(given_responses)}
    assert exposures(INSTRUMENT, [report], given_rules) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(responses(most=4), min_size=1, max_size=6), rules())
def test_scoring_many_leaders_at_once_equals_one_at_a_time(cohort, given_rules):
    table = ResponseTable.from_responses(INSTRUMENT, dict(enumerate(cohort)))
    together = score_leaders(INSTRUMENT, table, given_rules)
    for key, given_responses in enumerate(cohort):
        alone = score_leader(INSTRUMENT, given_responses, given_rules)
        assert together[key].withheld == alone.withheld
        assert [g.key for g in together[key].shown] == [g.key for g in alone.shown]
        for (g1, k1, f1, s1), (g2, k2, f2, s2) in itertools.zip_longest(
            all_stats(together[key]), all_stats(alone)
        ):
            assert (g1.key, k1, f1, s1.n) == (g2.key, k2, f2, s2.n)
            assert abs(s1.mean - s2.mean) < 1e-12


# -- differencing across a regenerated report --------------------------------------------


@st.composite
def release_history(draw: st.DrawFn):
    """Responses now, and the response sets of one or two reports already released."""
    earlier = draw(responses(most=6))
    later = draw(responses(most=4))
    everything = {f"r{i:03d}": r for i, r in enumerate(earlier + later)}
    ids = sorted(everything)
    first = frozenset(ids[: len(earlier)])
    released = [first]
    if draw(st.booleans()):
        extra = draw(st.sets(st.sampled_from(ids[len(earlier) :]), max_size=3)) if later else set()
        released.append(first | extra)
    return everything, released


def printed(scores: LeaderScores) -> dict[tuple[str, str, str], int]:
    return {(g.key, kind, f): s.n for g, kind, f, s in all_stats(scores) if g.key != "self"}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(release_history(), rules())
def test_a_regenerated_report_exposes_nobody_by_difference(history, given_rules):
    everything, released = history
    decision = regeneration_responses(INSTRUMENT, everything, released, given_rules)
    assert released[-1] <= decision.response_ids <= set(everything)
    assert decision.added == decision.response_ids - released[-1]
    assert sum(decision.held_back.values()) == len(everything) - len(decision.response_ids)
    reports = [{i: everything[i] for i in sorted(ids)} for ids in released]
    regenerated = {i: everything[i] for i in sorted(decision.response_ids)}
    before = set(exposures(INSTRUMENT, reports, given_rules))
    assert set(exposures(INSTRUMENT, [*reports, regenerated], given_rules)) <= before
    # The rule of docs/anonymity.md as written: every figure shown in the released and the regenerated report
    # is unchanged, or differs by at least the group minimum of new responses (a group shown
    # on its own with a minimum of 1, like a manager, is not anonymous to begin with).
    old = printed(score_leader(INSTRUMENT, reports[-1].values(), given_rules))
    new = printed(score_leader(INSTRUMENT, regenerated.values(), given_rules))
    joined = {everything[i].relationship for i in decision.added} - {"self"}
    for figure in old.keys() & new.keys():
        difference = new[figure] - old[figure]
        floor = min([minimum_of(figure[0], given_rules)] + [given_rules.minimum(g) for g in joined])
        assert difference == 0 or difference >= floor


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(release_history(), rules())
def test_nothing_new_means_the_released_figures(history, given_rules):
    everything, released = history
    current = {i: everything[i] for i in released[-1]}
    decision = regeneration_responses(INSTRUMENT, current, [*released[:1], released[-1]])
    assert decision.unchanged and decision.response_ids == released[-1]
    assert decision.held_back == {}
