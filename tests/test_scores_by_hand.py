"""Two small cohorts worked out by hand, run through the real path: CSV import into the
database, then ``cl360 scores export``. Runs on SQLite and on PostgreSQL.

The questionnaire is tiny so that every figure can be checked with pencil and paper:
dimension ``a`` has three items (``a3`` reverse-keyed: a raw r scores 6 - r), dimension ``b``
two; a 5-point scale; minimums manager 1, peers 3, direct reports 3, other 3, Others 3.
A rater counts for ``a`` with 2 of its 3 items answered, for ``b`` with 1 of 2.

Cohort "Before" (created first) and cohort "Now" share the instrument; Ann and Ben are in
both, so their change is measured. Blank cells are "not able to rate". In "Now", Ann, Ben
and Dan also predict their Others scores (columns ``predicted:a``, ``predicted:b``).

The questionnaire (``hand_instrument``) and both cohorts' rows, each with its figures worked
out beside it, are in tests/builders.py: the import tests read the same rows.
"""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from assessment.accounts import create_coach
from assessment.cohorts import create_cohort
from assessment.imports import import_responses
from assessment.models import Leader
from tests.builders import BEFORE_CSV, NOW_CSV, close, export_text, hand_instrument

approx = pytest.approx


@pytest.fixture
def exported_by_hand(database):
    """Both cohorts imported from CSV; the Now cohort exported as JSON and as CSV."""
    instrument = hand_instrument()
    with database.transaction() as session:
        coach = create_coach(session, "hand@example.org", "a long coach password")
        before = create_cohort(session, coach, "Before", instrument)
        session.add_all(
            [
                Leader(cohort=before, name="Ann", email="Ann@Example.org"),
                Leader(cohort=before, name="Ben", email="ben@example.org"),
            ]
        )
        session.flush()
        import_responses(session, before, BEFORE_CSV.encode(), actor="test")
    with database.transaction() as session:
        coach = session.merge(coach)
        now = create_cohort(session, coach, "Now", instrument)
        now.gap_threshold = 0.5  # blind spots from half a scale point in this cohort
        for name in ("Ann", "Ben", "Cat", "Dan"):
            session.add(Leader(cohort=now, name=name, email=f"{name.lower()}@example.org"))
        session.flush()
        import_responses(session, now, NOW_CSV.encode(), actor="test")
    close(database, "Before", "Now")
    as_json, as_csv = export_text(database, "Now", "json"), export_text(database, "Now", "csv")
    data = json.loads(as_json)
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    return data, rows, as_json + as_csv


def leader(data: dict, name: str) -> dict:
    return next(entry for entry in data["leaders"] if entry["name"] == name)


def group(entry: dict, key: str) -> dict:
    return next(g for g in entry["groups"] if g["group"] == key)


def test_others_scores_reverse_keying_not_able_to_rate_and_the_half_rule(exported_by_hand):
    data, _, _ = exported_by_hand
    ann = group(leader(data, "Ann"), "others")
    # a: manager 10/3, peer 14/3, peer 3 (a3 not rated, 2 of 3 answered); the third peer
    # answered 1 of 3 items and does not count: n = 3, mean (10/3 + 14/3 + 3) / 3 = 11/3.
    assert ann["dimensions"]["a"]["n"] == 3
    assert ann["dimensions"]["a"]["mean"] == approx(11 / 3)
    # b: 4, 4.5, 3.5 and 4 (the third peer rated b1 only: 1 of 2 is half): mean 16/4 = 4.
    b = ann["dimensions"]["b"]
    assert (b["n"], b["mean"]) == (4, approx(4.0))
    # SD: deviations 0, .5, -.5, 0 -> sum of squares .5, variance .5/3 = 1/6, SD 0.408248.
    assert b["sd"] == approx(math.sqrt(1 / 6))
    # 95% interval: t(0.975, 3 df) = 3.182446; half-width 3.182446 * 0.408248 / 2 = 0.649614.
    assert b["ci_low"] == approx(4 - 0.649614, abs=1e-5)
    assert b["ci_high"] == approx(4 + 0.649614, abs=1e-5)
    # r_wg = 1 - (1/6) / ((5^2 - 1) / 12) = 1 - (1/6)/2 = 0.916667; raters agree.
    assert b["rwg"] == approx(1 - (1 / 6) / 2)
    assert b["raters_disagree"] is False
    # Ann's statements of a are withheld: peer 2 skipped a3 and peer 3 answered a3 only, so
    # a's figure minus a third of each statement's gives (peer 2's a1 + a2)/6 - peer 3's a3/3,
    # two peers' answers alone; with the manager's answers known, no statement can stay.
    assert {ann["items"][i]["reason"] for i in ("a1", "a2", "a3")} == {"partial_answers"}
    # Item a3 is reverse-keyed: Cat's direct reports' raw 2, 1, 2 score 4, 5, 4: 13/3.
    cat = group(leader(data, "Cat"), "others")
    assert (cat["items"]["a3"]["n"], cat["items"]["a3"]["mean"]) == (3, approx(13 / 3))


def test_groups_below_their_minimum_and_complements_are_suppressed(exported_by_hand):
    data, _, _ = exported_by_hand
    ann = leader(data, "Ann")
    peers = group(ann, "peer")
    # Peers' a: only peers 1 and 2 count (2 < 3).
    assert peers["dimensions"]["a"] == {"status": "suppressed", "reason": "figure_below_minimum"}
    manager = group(ann, "manager")
    # Others a (3 raters) minus the manager's a would leave peers 1 and 2: 2 < 3, withheld,
    # with the manager's statements of a (from which their a could be worked out again).
    assert manager["dimensions"]["a"] == {"status": "suppressed", "reason": "complement"}
    # Others b2 (3) minus the manager's b2 would leave peers 1 and 2: the manager's b goes;
    # then Others b (4) minus the peers' b (3) would leave the manager: the peers' b goes too.
    assert manager["dimensions"]["b"] == {"status": "suppressed", "reason": "complement"}
    assert manager["items"]["b2"] == {"status": "suppressed", "reason": "complement"}
    assert peers["dimensions"]["b"] == {"status": "suppressed", "reason": "complement"}
    assert group(ann, "others")["dimensions"]["b"]["mean"] == approx(4.0)
    ben = leader(data, "Ben")
    suppressed = {g["group"]: g for g in ben["groups"] if g["status"] == "suppressed"}
    assert set(suppressed) == {"direct_report", "other"}
    assert suppressed["direct_report"] == {
        "group": "direct_report",
        "label": "Direct reports",
        "status": "suppressed",
        "reason": "group_below_minimum",
    }
    # Ben's Others: a (3 + 7/3 + 11/3) / 3 = 3, b (2.5 + 2.5 + 4) / 3 = 3.
    assert group(ben, "others")["dimensions"]["a"]["mean"] == approx(3.0)
    assert group(ben, "others")["dimensions"]["b"]["mean"] == approx(3.0)


def only_prediction(entry: dict) -> dict:
    """A leader's ``dimensions`` entry without its null values: with the Others score
    withheld, only the leader's own prediction is left."""
    return {key: value for key, value in entry.items() if value is not None}


def test_too_few_observers_means_no_observer_figure_norm_type_or_comment(exported_by_hand):
    data, rows, text = exported_by_hand
    dan = leader(data, "Dan")
    assert dan["observer_scores"] == "suppressed"
    assert [g["group"] for g in dan["groups"]] == ["self", "others"]
    assert group(dan, "others") == {
        "group": "others",
        "label": "Others",
        "status": "suppressed",
        "reason": "others_below_minimum",
    }
    # His own prediction for a (3) is kept, but nothing is placed or compared: no error.
    assert list(dan["dimensions"]) == ["a"]
    assert only_prediction(dan["dimensions"]["a"]) == {"predicted": 3}
    assert dan["self_minus_others"] == {"dimensions": {}, "items": {}}
    assert dan["comments_shown"] is False
    assert "Secret detail" not in text and "Kind" not in text  # no comment is ever exported
    dan_rows = [r for r in rows if r["leader_email"] == "dan@example.org"]
    (others_row,) = [r for r in dan_rows if r["group"] not in ("self", "")]
    assert (others_row["group"], others_row["kind"], others_row["status"]) == (
        "others",
        "group",
        "suppressed",
    )
    assert others_row["n"] == others_row["mean"] == ""  # suppressed: no numbers at all


def test_alpha_per_dimension_over_observers_who_answered_every_item(exported_by_hand):
    data, rows, _ = exported_by_hand
    dimensions = {d["id"]: d for d in data["dimensions"]}
    # a: the 10 observer responses with a1, a2 and a3 answered (Ann's peers 2 and 3 are not):
    #   a1: 3 4 3 2 4 4 5 4 4 3   sum 36, sum of squared deviations 6.4
    #   a2: 4 5 3 3 3 4 4 5 4 3   sum 38, SS 5.6
    #   a3 (scored): 3 5 3 2 4 4 5 4 4 3   sum 37, SS 8.1
    #   totals: 10 14 9 7 11 12 14 13 12 9   sum 111, SS 48.9
    #   alpha = 3/2 * (1 - (6.4 + 5.6 + 8.1) / 48.9) = 1.5 * 28.8 / 48.9 = 0.883436
    assert dimensions["a"]["alpha_responses"] == 10
    assert dimensions["a"]["alpha"] == approx(1.5 * 28.8 / 48.9)
    # b: 11 responses with b1 and b2 (Ann's third peer did not rate b2):
    #   b1: sum 39, sum of squares 145 -> SS 145 - 39^2/11 = 74/11
    #   b2: sum 42, sum of squares 168 -> SS 168 - 42^2/11 = 84/11
    #   totals: sum 81, sum of squares 621 -> SS 621 - 81^2/11 = 270/11
    #   alpha = 2 * (1 - (74 + 84) / 270) = 224/270 = 0.829630
    assert dimensions["b"]["alpha_responses"] == 11
    assert dimensions["b"]["alpha"] == approx(224 / 270)
    cohort_rows = {r["id"]: r for r in rows if r["record"] == "cohort"}
    assert float(cohort_rows["b"]["alpha"]) == approx(224 / 270)


def test_cohort_distribution_percentiles_and_agreement_types(exported_by_hand):
    data, _, _ = exported_by_hand
    a = next(d for d in data["dimensions"] if d["id"] == "a")
    # Shown Others scores for a: Ann 11/3, Ben 3, Cat (4 + 14/3 + 13/3)/3 = 13/3; Dan has none.
    # Mean 11/3, deviations 0, -2/3, 2/3 -> variance (8/9)/2 = 4/9, SD 2/3; median 11/3.
    assert a["leaders"] == 3
    assert (a["mean"], a["sd"], a["median"]) == (approx(11 / 3), approx(2 / 3), approx(11 / 3))
    assert a["agreement_margin"] == approx(1 / 3)  # half the SD
    ann, ben, cat = (leader(data, n)["dimensions"] for n in ("Ann", "Ben", "Cat"))
    # Mid-rank percentiles within the cohort (N = 3): 100 * (below + equal/2) / 3.
    assert ben["a"]["percentile_cohort"] == approx(100 * 0.5 / 3)  # 16.67
    assert ann["a"]["percentile_cohort"] == approx(100 * 1.5 / 3)  # 50
    assert cat["a"]["percentile_cohort"] == approx(100 * 2.5 / 3)  # 83.33
    # Agreement on a, margin 1/3. Ann: 4 - 11/3 = 1/3, not more than the margin: in
    # agreement, and 11/3 is at the median: high. Ben: 5 - 3 = 2 > 1/3: over-estimator.
    # Cat: 2 - 13/3 = -7/3: under-estimator.
    assert ann["a"]["agreement_type"] == "in-agreement/high"
    assert ben["a"]["agreement_type"] == "over-estimator"
    assert cat["a"]["agreement_type"] == "under-estimator"
    # b: Others Ann 4, Ben 3, Cat (4 + 5 + 3.5)/3 = 25/6; mean 67/18; squared deviations
    # (5/18)^2 + (13/18)^2 + (8/18)^2 = 258/324 -> variance 129/324, SD 0.630990, margin
    # 0.315495, median 4. Ben: self 3 - Others 3 = 0, in agreement, below the median: low.
    # Ann: 4.5 - 4 = 0.5 > 0.3155: over-estimator.
    b = next(d for d in data["dimensions"] if d["id"] == "b")
    assert b["sd"] == approx(math.sqrt(129 / 324))
    assert ben["b"]["agreement_type"] == "in-agreement/low"
    assert ann["b"]["agreement_type"] == "over-estimator"


def test_reference_percentiles_use_all_data_on_the_instrument_version(exported_by_hand):
    data, _, _ = exported_by_hand
    ann, ben, cat = (leader(data, n)["dimensions"] for n in ("Ann", "Ben", "Cat"))
    # a over both cohorts: Before 28/9 and 21/9, Now 11/3, 3, 13/3 -> sorted
    # 2.33, 3, 3.11, 3.67, 4.33 (N = 5). Ann: 3 below -> 100 * 3.5 / 5 = 70.
    assert ann["a"]["percentile_reference"] == approx(70)
    assert ben["a"]["percentile_reference"] == approx(30)
    assert cat["a"]["percentile_reference"] == approx(90)
    # b: Before 3 and 2.5, Now 4, 3, 25/6 -> 2.5, 3, 3, 4, 4.17. Ben's 3 ties with Ann's
    # Before score: 1 below, 2 equal -> 100 * (1 + 1) / 5 = 40.
    assert ben["b"]["percentile_reference"] == approx(40)
    assert next(d for d in data["dimensions"] if d["id"] == "b")["reference_leaders"] == 5


def test_reliable_change_against_the_earlier_cohort(exported_by_hand):
    data, rows, _ = exported_by_hand
    ann, ben, cat = (leader(data, n)["dimensions"] for n in ("Ann", "Ben", "Cat"))
    # Before, Others a: Ann 28/9, Ben 21/9 -> SD |28/9 - 21/9| / sqrt(2) = (7/9) / sqrt(2).
    # Before alpha for a, over its 6 complete responses (scored):
    #   a1: 3 3 2 2 3 2 -> SS 39 - 15^2/6 = 1.5;   a2: 3 4 3 2 2 3 -> SS 51 - 17^2/6 = 17/6
    #   a3: 3 4 3 2 2 3 -> SS 17/6;   totals 9 11 8 6 7 8 -> SS 415 - 49^2/6 = 89/6
    #   alpha = 1.5 * (1 - (9/6 + 34/6) / (89/6)) = 1.5 * 46/89 = 69/89
    # S_diff = sqrt(2) * SD * sqrt(1 - alpha) = (7/9) * sqrt(20/89) = 0.368702
    # Ann: (11/3 - 28/9) / 0.368702 = (5/9) / 0.368702 = 1.5068: not reliable.
    s_diff_a = (7 / 9) * math.sqrt(20 / 89)
    assert ann["a"]["previous_cohort"] == "Before"
    assert ann["a"]["previous_mean"] == approx(28 / 9)
    assert ann["a"]["rci"] == approx((5 / 9) / s_diff_a)
    assert ann["a"]["reliable_change"] is False
    # b: Before Others Ann 3, Ben 2.5 -> SD 0.5 / sqrt(2); alpha over 6 responses:
    #   b1: 3 4 3 2 2 3 -> SS 17/6;  b2: 3 3 2 3 2 3 -> SS 8/6;  totals 6 7 5 5 4 6 -> SS 33/6
    #   alpha = 2 * (1 - 25/33) = 16/33; S_diff = 0.5 * sqrt(17/33) = 0.358870
    # Ann: (4 - 3) / 0.358870 = 2.7865 > 1.96: a reliable change.
    s_diff_b = 0.5 * math.sqrt(17 / 33)
    assert ann["b"]["rci"] == approx(1 / s_diff_b)
    assert ann["b"]["reliable_change"] is True
    assert ben["a"]["rci"] == approx((3 - 7 / 3) / s_diff_a)  # 1.808: not reliable
    assert ben["b"]["rci"] == approx(0.5 / s_diff_b)
    assert cat["a"]["rci"] is None and cat["a"]["previous_cohort"] is None
    ann_row = next(
        r for r in rows if r["leader_name"] == "Ann" and r["group"] == "others" and r["id"] == "b"
    )
    assert (ann_row["reliable_change"], float(ann_row["rci"])) == ("true", approx(1 / s_diff_b))


def test_blind_spots_use_the_cohorts_own_threshold(exported_by_hand):
    data, rows, _ = exported_by_hand
    ann = leader(data, "Ann")
    # Threshold 0.5 in this cohort. Ann's a1 and b1 would be blind spots, but both Others
    # figures are withheld (partial answers, above); b2: self 4 vs 13/3 -> -0.333 (no flag).
    assert ann["blind_spots"] == []
    assert ann["self_minus_others"]["items"]["b2"] == approx(4 - 13 / 3)
    ben = leader(data, "Ben")
    # Ben's a1: self 5 vs Others (3 + 2 + 4)/3 = 3 -> +2, the biggest gap first.
    assert ben["blind_spots"][0] == "a1"
    cat = leader(data, "Cat")
    # Cat's a1: self 2 vs (4 + 5 + 4)/3 = 13/3 -> -2.33: a hidden strength.
    assert "a1" in cat["hidden_strengths"]
    flagged = {
        (r["leader_name"], r["id"]): r["flag"]
        for r in rows
        if r["group"] == "others" and r["kind"] == "item" and r["flag"]
    }
    assert flagged[("Ben", "a1")] == "blind_spot" and flagged[("Cat", "a1")] == "hidden_strength"


def test_predicted_views_against_the_others_scores(exported_by_hand):
    data, rows, _ = exported_by_hand
    ann, ben, cat, dan = (leader(data, n) for n in ("Ann", "Ben", "Cat", "Dan"))
    # Ann predicted a 4 and b 3; her Others scores are a 11/3 and b 4 (see above). Error is
    # predicted minus Others: a 4 - 11/3 = +1/3 (she expected a third of a point more),
    # b 3 - 4 = -1 (a point less). Mean absolute error (|+1/3| + |-1|) / 2 = (4/3) / 2 = 2/3
    # (the signed mean, -1/3, would let the two misses cancel).
    assert ann["dimensions"]["a"]["predicted"] == 4
    assert ann["dimensions"]["a"]["prediction_error"] == approx(1 / 3)
    assert ann["dimensions"]["b"]["predicted"] == 3
    assert ann["dimensions"]["b"]["prediction_error"] == approx(-1)
    assert ann["mean_absolute_prediction_error"] == approx(2 / 3)
    # Ben predicted a 4 and nothing for b; his Others a is 3: error 4 - 3 = +1. The mean is
    # over the dimensions with both a prediction and an Others score: 1 / 1 = 1.
    assert ben["dimensions"]["a"]["prediction_error"] == approx(1)
    assert ben["dimensions"]["b"]["predicted"] is None
    assert ben["dimensions"]["b"]["prediction_error"] is None
    assert ben["mean_absolute_prediction_error"] == approx(1)
    # Cat predicted nothing; Dan predicted a 3 but his Others is withheld: no error, no mean.
    assert all(d["predicted"] is None for d in cat["dimensions"].values())
    assert cat["mean_absolute_prediction_error"] is None
    assert only_prediction(dan["dimensions"]["a"]) == {"predicted": 3}
    assert dan["mean_absolute_prediction_error"] is None
    # The CSV: the mean on the leader's row, the prediction on the self dimension row, and
    # prediction and error on the Others dimension row.
    assert all(None not in row and None not in row.values() for row in rows)  # all full width
    summary = {r["leader_name"]: r for r in rows if r["record"] == "leader"}
    assert float(summary["Ann"]["mean_absolute_prediction_error"]) == approx(2 / 3)
    assert float(summary["Ben"]["mean_absolute_prediction_error"]) == approx(1)
    assert summary["Cat"]["mean_absolute_prediction_error"] == ""
    assert summary["Dan"]["mean_absolute_prediction_error"] == ""
    dimension = {
        (r["leader_name"], r["group"], r["id"]): r
        for r in rows
        if r["record"] == "figure" and r["kind"] == "dimension"
    }
    ann_a, ann_b = dimension["Ann", "others", "a"], dimension["Ann", "others", "b"]
    assert (float(ann_a["predicted"]), float(ann_a["prediction_error"])) == (4, approx(1 / 3))
    assert (float(ann_b["predicted"]), float(ann_b["prediction_error"])) == (3, approx(-1))
    assert float(dimension["Ben", "others", "a"]["prediction_error"]) == approx(1)
    assert dimension["Ben", "others", "b"]["predicted"] == ""
    assert dimension["Ben", "others", "b"]["prediction_error"] == ""
    assert float(dimension["Ann", "self", "b"]["predicted"]) == 3
    assert dimension["Ann", "self", "b"]["prediction_error"] == ""
    assert float(dimension["Dan", "self", "a"]["predicted"]) == 3
    dan_rows = [r for r in rows if r["leader_name"] == "Dan"]
    assert all(r["prediction_error"] == r["mean_absolute_prediction_error"] == "" for r in dan_rows)
    # Observers' rows never carry a prediction (it is the leader's own answer).
    observers = [r for r in rows if r["group"] not in ("self", "others", "")]
    assert observers and all(r["predicted"] == r["prediction_error"] == "" for r in observers)


def test_too_few_leaders_for_profiles_but_agreement_types_shown(exported_by_hand):
    data, rows, _ = exported_by_hand
    assert data["profiles"]["status"] == "too_few_leaders"
    # Ann, Ben and Cat have Others and self scores; Before had no self-assessments, Dan no Others.
    assert data["profiles"]["leaders"] == 3
    assert data["profiles"]["minimum"] == 30
    assert all(leader(data, n)["profile"] is None for n in ("Ann", "Ben", "Cat", "Dan"))
    assert leader(data, "Cat")["dimensions"]["a"]["agreement_type"] == "under-estimator"
    (profile_row,) = [r for r in rows if r["record"] == "profile"]
    assert profile_row["status"] == "too_few_leaders" and "30" in profile_row["reason"]
