"""Leader profiles (docs/scoring.md, "Profiles"): recovered from separable clusters, named in plain words,
stored as plain JSON that assigns leaders exactly as the fitted model does, and an honest
"too few leaders" below the minimum."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sqlalchemy import select

from assessment.accounts import create_coach
from assessment.cohorts import create_cohort
from assessment.core.profile_fitting import LeaderProfiles, fit_profiles
from assessment.core.profiles import (
    MIN_LEADERS,
    NotFittedYet,
    ProfileModel,
    TooFewLeaders,
    leader_features,
    profile_names,
)
from assessment.core.psychometrics import LeaderFigures
from assessment.core.scoring import LeaderScores
from assessment.imports import import_responses
from assessment.models import Cohort, Leader, ProfileModelRecord
from assessment.results import cohort_results, fit_profile_model
from tests.builders import close, export_text, hand_instrument

DIMENSIONS = ["purpose", "self_awareness", "courage"]
NAMES = ["Purpose", "Self-awareness", "Courage"]
# Others score per dimension, then self minus Others per dimension.
CENTRES = {
    "Purpose-led, under-rates self": [4.5, 3.4, 3.4, -0.8, -0.7, -0.8],
    "Growing all round, over-rates self": [2.9, 2.9, 2.8, 0.9, 1.0, 0.9],
    "Self-awareness-led, sees self as others do": [3.5, 4.5, 3.5, 0.0, 0.1, 0.0],
}


def clusters(per_cluster: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(CENTRES)), per_cluster)
    centres = np.array(list(CENTRES.values()))
    return centres[truth] + rng.normal(0, 0.12, (len(truth), 6)), truth


def fit(features: np.ndarray, **options) -> ProfileModel | TooFewLeaders:
    return fit_profiles(
        features,
        instrument_id="compassionate-leadership",
        instrument_version=1,
        dimension_ids=DIMENSIONS,
        dimension_names=NAMES,
        **options,
    )


@pytest.fixture(scope="module")
def separable() -> tuple[ProfileModel, np.ndarray, np.ndarray]:
    features, truth = clusters(20)
    model = fit(features, n_bootstrap=20)
    assert isinstance(model, ProfileModel)
    return model, features, truth


def test_separable_clusters_are_recovered(separable):
    model, features, truth = separable
    assert model.k == 3  # lowest BIC
    assert model.k_silhouette == 3  # the k-means cross-check agrees
    labels, probabilities = model.assign_matrix(features)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert probabilities.min() > 0.99
    assert model.stability == pytest.approx(1.0, abs=0.05)
    assert sorted(model.sizes) == [20, 20, 20] and model.n_leaders == 60
    assert model.converged


def test_profiles_get_unique_plain_language_names(separable):
    model, _, _ = separable
    assert sorted(model.names) == sorted(CENTRES)
    assert len(set(model.names)) == model.k


def test_names_stay_unique_when_centroids_read_alike():
    # Two profiles that both read "Balanced, sees self as others do" get told apart.
    standardised = np.array([[0.1, 0.0, 0.0, 0.2, 0.0, 0.0], [0.0, 0.1, 0.0, -0.3, 0.0, 0.0]])
    names = profile_names(standardised, standardised + 3, NAMES)
    assert len(set(names)) == 2
    assert names[0].startswith("Balanced, sees self as others do (")
    same = profile_names(np.zeros((3, 6)), np.zeros((3, 6)), NAMES)
    assert len(set(same)) == 3


def test_stored_json_round_trips_and_assigns_the_same_profiles(separable):
    model, features, _ = separable
    data = json.loads(json.dumps(model.to_data()))  # plain JSON: no pickle anywhere
    again = ProfileModel.from_data(data)
    assert again == model
    assert again.to_data() == model.to_data()
    estimator = LeaderProfiles(tuple(NAMES), n_bootstrap=0).fit(features)
    stored_labels, _ = again.assign_matrix(features)
    assert (stored_labels == estimator.predict(features)).all()
    assert data["instrument"] == {"id": "compassionate-leadership", "version": 1}
    assert set(data["selection"]["bic"]) == {"2", "3", "4", "5", "6"}
    one = again.assign(features[0].tolist())
    assert one.name == again.names[stored_labels[0]]


def test_below_the_minimum_the_answer_is_too_few_leaders():
    features, _ = clusters(10)  # 30 leaders
    result = fit(features[: MIN_LEADERS - 1])
    assert isinstance(result, TooFewLeaders)
    assert result.n_leaders == MIN_LEADERS - 1
    assert "agreement types" in result.message
    assert isinstance(fit(features[:MIN_LEADERS], n_bootstrap=5), ProfileModel)


def test_estimator_follows_scikit_learn_conventions(separable):
    _, features, _ = separable
    estimator = LeaderProfiles(tuple(NAMES), k_max=4, n_bootstrap=0)
    assert clone(estimator).get_params() == estimator.get_params()
    with pytest.raises(NotFittedError):
        estimator.predict(features)
    assert estimator.fit(features) is estimator
    assert not hasattr(LeaderProfiles(), "k_")  # learned attributes only appear on fit
    assert estimator.k_ == 3 and len(estimator.labels_) == len(features)
    with pytest.raises(ValueError, match="too few"):
        LeaderProfiles(tuple(NAMES)).fit(features[:5])
    with pytest.raises(ValueError, match="columns"):
        LeaderProfiles(tuple(NAMES)).fit(features[:, :4])


def test_fitting_is_reproducible(separable):
    model, features, _ = separable
    again = fit(features, n_bootstrap=20)
    assert again.means == model.means and again.names == model.names
    assert again.stability == model.stability


def test_a_leader_without_shown_others_has_no_features():
    scores = LeaderScores(None, None, [], [], False, {}, {}, [], [], {})
    figures = LeaderFigures(scores=scores, others={}, self_scores={"purpose": 4.0})
    assert leader_features(figures, DIMENSIONS) is None


# -- through the database ---------------------------------------------------------------


def profile_csv(leaders: list[tuple[str, float, float, int]]) -> bytes:
    """Each leader: self and three others rating around (level, self bias) on both
    dimensions, with noise drawn from the leader's own seed."""
    lines = ["leader,relationship,a1,a2,a3,b1,b2,note"]
    for email, level, bias, seed in leaders:
        rng = random.Random(seed)
        for relationship in ("self", "other", "other", "other"):
            centre = level + (bias if relationship == "self" else 0)
            points = [min(5, max(1, round(centre + rng.gauss(0, 0.3)))) for _ in range(5)]
            points[2] = 6 - points[2]  # a3 is reverse-keyed
            lines.append(f"{email},{relationship},{','.join(map(str, points))},")
    return ("\n".join(lines) + "\n").encode()


def test_profiles_are_fitted_stored_and_used_for_later_leaders(database):
    instrument = hand_instrument()
    groups = [(4.5, -1.5), (2.0, 2.0), (3.5, 0.0)]
    reference = [(f"r{i}@example.org", *groups[i % 3], i) for i in range(36)]
    with database.transaction() as session:
        coach = create_coach(session, "profiles@example.org", "a long coach password")
        first = create_cohort(session, coach, "Reference", instrument)
        session.add_all(Leader(cohort=first, name=e, email=e) for e, *_ in reference)
        session.flush()
        import_responses(session, first, profile_csv(reference), actor="test")
        # Enough leaders, but nothing fitted yet: reading the results never fits a model.
        waiting = cohort_results(session, first).profiles
        assert waiting.model is None and waiting.unavailable == NotFittedYet(36)
        assert "have not been fitted yet on the 36 leaders" in waiting.unavailable.message
        assert session.scalars(select(ProfileModelRecord)).all() == []
        fitted = fit_profile_model(session, first)
    assert isinstance(fitted, ProfileModel) and fitted.n_leaders == 36
    with database.transaction() as session:
        later = create_cohort(session, session.merge(coach), "Later", instrument)
        # Rated exactly as reference leaders r0 and r1 were.
        newcomers = [("new1@example.org", 4.5, -1.5, 0), ("new2@example.org", 2.0, 2.0, 1)]
        session.add_all(Leader(cohort=later, name=e, email=e) for e, *_ in newcomers)
        session.flush()
        import_responses(session, later, profile_csv(newcomers), actor="test")
    with database.session() as session:
        (record,) = session.scalars(select(ProfileModelRecord)).all()
        assert record.model == fitted.to_data() and record.k == fitted.k
        later = session.scalars(select(Cohort).where(Cohort.name == "Later")).one()
        results = cohort_results(session, later)
        assert results.profiles.model == fitted and results.profiles.unavailable is None
        by_email = {results.leaders[k].email: a for k, a in results.profiles.assignments.items()}
        first = session.scalars(select(Cohort).where(Cohort.name == "Reference")).one()
        reference_results = cohort_results(session, first)
        names_of = {
            reference_results.leaders[k].email: a.name
            for k, a in reference_results.profiles.assignments.items()
        }
        # A later leader rated like a reference leader joins the same profile.
        assert by_email["new1@example.org"].name == names_of["r0@example.org"]
        assert by_email["new2@example.org"].name == names_of["r1@example.org"]
    close(database, "Later")
    exported = json.loads(export_text(database, "Later", "json"))
    assert exported["profiles"]["status"] == "stored"
    assert {e["email"]: e["profile"]["name"] for e in exported["leaders"]} == {
        email: assignment.name for email, assignment in by_email.items()
    }
