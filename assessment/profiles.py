"""Leader profiles (PRODUCT §6): clusters of leaders by how others see them and how they see themselves.

Each leader is a vector of their Others score and their self-other gap per dimension,
standardised within the reference population (every leader with all of those figures shown,
in all data on the same instrument version). Gaussian mixtures with diagonal covariance
approximate the latent profile analysis used in research, so they are the primary model and the
number of profiles (2-6) is the one with the lowest BIC; k-means with the best silhouette is
reported beside it as a cross-check. Profiles are named from their standardised centroid in
words a leader understands, their stability is the mean adjusted Rand index over seeded
bootstrap refits, and the fitted model is kept as plain data (:meth:`ProfileModel.to_data`),
never as a pickle, which would run code when loaded.

Below :data:`MIN_LEADERS` in the reference population fitting profiles is not honest (a mixture
of six dimensions needs dozens of leaders per profile to be more than noise): the result is
:class:`TooFewLeaders`, and reports fall back to the agreement types.

Pure: numbers in, numbers out, no Flask and no database.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from assessment.psychometrics import LeaderFigures, Placing

K = TypeVar("K")

MIN_LEADERS = 30
"""Fewest leaders in the reference population for which profiles are fitted (PRODUCT §6)."""
DEFAULT_SEED = 360
FORMAT = "cl360-profiles/1"
STANDOUT = 0.5
"""Standardised distance from the reference mean that a profile's name mentions."""
SILHOUETTE_SAMPLE = 2000
"""Silhouette is O(n^2); above this many leaders it is estimated on a seeded sample."""


# -- features -----------------------------------------------------------------------------


def feature_names(dimension_ids: Sequence[str]) -> list[str]:
    return [f"others:{d}" for d in dimension_ids] + [f"gap:{d}" for d in dimension_ids]


def leader_features(
    figures: LeaderFigures | Placing, dimension_ids: Sequence[str]
) -> list[float] | None:
    """Others score and self-other gap per dimension, or ``None`` when any is not shown."""
    if not all(d in figures.others and d in figures.self_scores for d in dimension_ids):
        return None
    others = [figures.others[d] for d in dimension_ids]
    gaps = [figures.self_scores[d] - figures.others[d] for d in dimension_ids]
    return others + gaps


def feature_matrix(
    leaders: Mapping[K, LeaderFigures | Placing], dimension_ids: Sequence[str]
) -> tuple[list[K], np.ndarray]:
    """The leaders that have every feature, and their feature rows, in the mapping's order."""
    keys: list[K] = []
    rows: list[list[float]] = []
    for key, figures in leaders.items():
        row = leader_features(figures, dimension_ids)
        if row is not None:
            keys.append(key)
            rows.append(row)
    return keys, np.asarray(rows, dtype=float).reshape(len(rows), 2 * len(dimension_ids))


# -- the estimator --------------------------------------------------------------------------


class LeaderProfiles(ClusterMixin, BaseEstimator):
    """Choose, fit and name leader profiles; scikit-learn conventions throughout.

    ``__init__`` only stores parameters, :meth:`fit` validates ``X`` (one row per leader, the
    columns of :func:`feature_names`) and returns ``self``, learned attributes end in ``_``, and
    randomness comes only from ``random_state``.
    """

    def __init__(
        self,
        dimension_names: Sequence[str] = ("Purpose", "Self-awareness", "Courage"),
        *,
        k_min: int = 2,
        k_max: int = 6,
        random_state: int = DEFAULT_SEED,
        n_init: int = 10,
        mixture_n_init: int = 3,
        max_iter: int = 500,
        n_bootstrap: int = 50,
        bootstrap_size: int = 2000,
        min_leaders: int = MIN_LEADERS,
    ) -> None:
        self.dimension_names = dimension_names
        self.k_min = k_min
        self.k_max = k_max
        self.random_state = random_state
        self.n_init = n_init
        self.mixture_n_init = mixture_n_init
        self.max_iter = max_iter
        self.n_bootstrap = n_bootstrap
        self.bootstrap_size = bootstrap_size
        self.min_leaders = min_leaders

    def fit(self, X: Any, y: None = None) -> LeaderProfiles:
        # One BLAS/OpenMP thread: k-means on a few thousand rows is ten times slower when its
        # threads compete with a busy machine (a web worker, a report batch) than alone.
        with threadpool_limits(limits=1):
            return self._fit(X)

    def _fit(self, X: Any) -> LeaderProfiles:
        X = check_array(X, dtype=float, ensure_min_samples=1)
        n, width = X.shape
        if width != 2 * len(self.dimension_names):
            raise ValueError(
                f"expected {2 * len(self.dimension_names)} columns (Others and gap per "
                f"dimension), got {width}"
            )
        if n < self.min_leaders:
            raise ValueError(f"{n} leaders is too few for profiles (minimum {self.min_leaders})")
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        k_values = [k for k in range(self.k_min, self.k_max + 1) if k < n]
        self.bic_: dict[int, float] = {}
        self.silhouette_: dict[int, float | None] = {}
        converged = []
        mixtures: dict[int, GaussianMixture] = {}
        for k in k_values:
            mixtures[k], ok = _fit_quietly(self._mixture(k, self.mixture_n_init), Z)
            self.bic_[k] = float(mixtures[k].bic(Z))
            kmeans, ok_kmeans = _fit_quietly(
                KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state), Z
            )
            self.silhouette_[k] = _silhouette(Z, kmeans.labels_, self.random_state)
            converged += [ok, ok_kmeans]
        self.converged_ = all(converged)
        self.k_ = min(self.bic_, key=lambda k: (self.bic_[k], k))
        scored = {k: s for k, s in self.silhouette_.items() if s is not None}
        self.k_silhouette_ = max(scored, key=lambda k: (scored[k], -k)) if scored else None
        self.mixture_ = mixtures[self.k_]
        self.labels_ = self.mixture_.predict(Z)
        centroids = self.scaler_.inverse_transform(self.mixture_.means_)
        self.names_ = profile_names(self.mixture_.means_, centroids, list(self.dimension_names))
        self.stability_ = self._stability(Z)
        self.n_leaders_ = n
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "mixture_")
        X = check_array(X, dtype=float)
        return self.mixture_.predict(self.scaler_.transform(X))

    def _mixture(self, k: int, n_init: int, random_state: int | None = None) -> GaussianMixture:
        return GaussianMixture(
            n_components=k,
            covariance_type="diag",
            n_init=n_init,
            max_iter=self.max_iter,
            random_state=self.random_state if random_state is None else random_state,
        )

    def _stability(self, Z: np.ndarray) -> float | None:
        """Mean adjusted Rand index between the model's labels and bootstrap refits' labels.

        Each resample draws leaders with replacement (at most ``bootstrap_size`` of them, so
        the cost does not grow with the population), refits the chosen k, and labels every
        leader; 1 means the same profiles every time, 0 what chance would give.
        """
        if self.n_bootstrap <= 0:
            return None
        rng = np.random.default_rng(self.random_state)
        size = min(len(Z), self.bootstrap_size)
        scores = []
        for _ in range(self.n_bootstrap):
            sample = Z[rng.integers(0, len(Z), size)]
            seed = int(rng.integers(0, 2**31 - 1))
            # One initialisation per resample: the spread over resamples is what is measured.
            refit, _ = _fit_quietly(self._mixture(self.k_, 1, seed), sample)
            scores.append(adjusted_rand_score(self.labels_, refit.predict(Z)))
        return float(np.mean(scores))


def _fit_quietly(estimator: Any, Z: np.ndarray) -> tuple[Any, bool]:
    """Fit, returning whether it converged instead of letting it warn.

    Only :class:`ConvergenceWarning` is caught (EM or Lloyd stopping at ``max_iter``, or
    k-means finding fewer distinct points than clusters); any other warning still surfaces.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(Z)
    converged = True
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return estimator, converged


def _silhouette(Z: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    distinct = len(set(labels.tolist()))
    if distinct < 2 or distinct >= len(Z):
        return None
    if len(Z) <= SILHOUETTE_SAMPLE:
        return float(silhouette_score(Z, labels))
    # A seeded sample can, in principle, hold a single cluster; then there is no estimate.
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(Z), SILHOUETTE_SAMPLE, replace=False)
    if len(set(labels[sample].tolist())) < 2:
        return None
    return float(silhouette_score(Z[sample], labels[sample]))


# -- names --------------------------------------------------------------------------------


def profile_names(
    standardised: np.ndarray, centroids: np.ndarray, dimension_names: Sequence[str]
) -> list[str]:
    """A plain-language name per profile, unique within the model.

    The first part says how others see the leader relative to the reference population
    ("Purpose-led" when one dimension stands out by :data:`STANDOUT` SD or more, "Strong all
    round", "Courage to grow", "Balanced"); the second how the leader's self-view compares
    ("over-rates self" / "under-rates self" when the average standardised gap stands out,
    otherwise "sees self as others do"). Ties get the most distinctive dimension's gap, and
    as a last resort a number.
    """
    d = len(dimension_names)
    base = [
        f"{_level_phrase(z[:d], dimension_names)}, {_gap_phrase(z[d:], raw[d:])}"
        for z, raw in zip(standardised, centroids, strict=True)
    ]
    detailed = [
        f"{name} ({_detail(z, dimension_names)})" if base.count(name) > 1 else name
        for name, z in zip(base, standardised, strict=True)
    ]
    names: list[str] = []
    for name in detailed:
        clashes = names.count(name) + sum(n.startswith(f"{name} #") for n in names)
        names.append(name if clashes == 0 else f"{name} #{clashes + 1}")
    return names


def _level_phrase(levels: np.ndarray, dimension_names: Sequence[str]) -> str:
    if all(levels >= STANDOUT):
        return "Strong all round"
    if all(levels <= -STANDOUT):
        return "Growing all round"
    top = int(np.argmax(levels))
    if levels[top] >= STANDOUT:
        return f"{dimension_names[top]}-led"
    low = int(np.argmin(levels))
    if levels[low] <= -STANDOUT:
        return f"{dimension_names[low]} to grow"
    return "Balanced"


def _gap_phrase(gaps: np.ndarray, raw_gaps: np.ndarray) -> str:
    average = float(np.mean(gaps))
    if average >= STANDOUT and float(np.mean(raw_gaps)) > 0:
        return "over-rates self"
    if average <= -STANDOUT and float(np.mean(raw_gaps)) < 0:
        return "under-rates self"
    if average >= STANDOUT:
        return "rates self higher than most"
    if average <= -STANDOUT:
        return "rates self lower than most"
    return "sees self as others do"


def _detail(z: np.ndarray, dimension_names: Sequence[str]) -> str:
    d = len(dimension_names)
    gaps = z[d:]
    index = int(np.argmax(np.abs(gaps)))
    direction = "higher" if gaps[index] > 0 else "lower"
    return f"rates own {dimension_names[index].lower()} {direction}"


# -- persisted models ---------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """A leader's profile under a stored model."""

    index: int
    name: str
    probability: float


@dataclass(frozen=True)
class ProfileModel:
    """A fitted profile model as plain data: enough to describe it and to assign new leaders."""

    instrument_id: str
    instrument_version: int
    dimension_ids: list[str]
    dimension_names: list[str]
    k: int
    names: list[str]
    scaler_mean: list[float]
    scaler_scale: list[float]
    weights: list[float]
    means: list[list[float]]
    variances: list[list[float]]
    bic: dict[int, float]
    silhouette: dict[int, float | None]
    k_silhouette: int | None
    stability: float | None
    converged: bool
    n_leaders: int
    sizes: list[int]
    random_state: int
    fitted_at: str

    @classmethod
    def from_estimator(
        cls,
        estimator: LeaderProfiles,
        *,
        instrument_id: str,
        instrument_version: int,
        dimension_ids: Sequence[str],
        fitted_at: datetime | None = None,
    ) -> ProfileModel:
        check_is_fitted(estimator, "mixture_")
        mixture = estimator.mixture_
        sizes = np.bincount(estimator.labels_, minlength=estimator.k_)
        return cls(
            instrument_id=instrument_id,
            instrument_version=instrument_version,
            dimension_ids=list(dimension_ids),
            dimension_names=list(estimator.dimension_names),
            k=int(estimator.k_),
            names=list(estimator.names_),
            scaler_mean=estimator.scaler_.mean_.tolist(),
            scaler_scale=estimator.scaler_.scale_.tolist(),
            weights=mixture.weights_.tolist(),
            means=mixture.means_.tolist(),
            variances=mixture.covariances_.tolist(),
            bic=dict(estimator.bic_),
            silhouette=dict(estimator.silhouette_),
            k_silhouette=estimator.k_silhouette_,
            stability=estimator.stability_,
            converged=bool(estimator.converged_),
            n_leaders=int(estimator.n_leaders_),
            sizes=[int(s) for s in sizes],
            random_state=int(estimator.random_state),
            fitted_at=(fitted_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        )

    # -- plain data ----------------------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        """JSON-ready data (no pickle): what the ``profile_model`` table stores."""
        return {
            "format": FORMAT,
            "instrument": {"id": self.instrument_id, "version": self.instrument_version},
            "method": "gaussian-mixture-diagonal",
            "features": feature_names(self.dimension_ids),
            "dimensions": [
                {"id": i, "name": n}
                for i, n in zip(self.dimension_ids, self.dimension_names, strict=True)
            ],
            "k": self.k,
            "names": self.names,
            "scaler": {"mean": self.scaler_mean, "scale": self.scaler_scale},
            "mixture": {"weights": self.weights, "means": self.means, "variances": self.variances},
            "selection": {
                "bic": {str(k): v for k, v in self.bic.items()},
                "silhouette": {str(k): v for k, v in self.silhouette.items()},
                "k_bic": self.k,
                "k_silhouette": self.k_silhouette,
            },
            "stability": self.stability,
            "converged": self.converged,
            "n": self.n_leaders,
            "sizes": self.sizes,
            "random_state": self.random_state,
            "fitted_at": self.fitted_at,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ProfileModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a stored profile model (format {data.get('format')!r})")
        selection = data["selection"]
        return cls(
            instrument_id=data["instrument"]["id"],
            instrument_version=int(data["instrument"]["version"]),
            dimension_ids=[d["id"] for d in data["dimensions"]],
            dimension_names=[d["name"] for d in data["dimensions"]],
            k=int(data["k"]),
            names=list(data["names"]),
            scaler_mean=[float(v) for v in data["scaler"]["mean"]],
            scaler_scale=[float(v) for v in data["scaler"]["scale"]],
            weights=[float(v) for v in data["mixture"]["weights"]],
            means=[[float(v) for v in row] for row in data["mixture"]["means"]],
            variances=[[float(v) for v in row] for row in data["mixture"]["variances"]],
            bic={int(k): float(v) for k, v in selection["bic"].items()},
            silhouette={
                int(k): None if v is None else float(v) for k, v in selection["silhouette"].items()
            },
            k_silhouette=selection["k_silhouette"],
            stability=data["stability"],
            converged=bool(data["converged"]),
            n_leaders=int(data["n"]),
            sizes=[int(s) for s in data["sizes"]],
            random_state=int(data["random_state"]),
            fitted_at=str(data["fitted_at"]),
        )

    # -- assigning leaders ---------------------------------------------------------------
    def assign_matrix(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Profile index and its posterior probability for each row of features.

        The diagonal Gaussian mixture's posterior, computed from the stored numbers alone:
        log p(k | z) = log w_k - 1/2 * sum(log(2 pi var) + (z - mu)^2 / var) - log evidence.
        """
        X = np.asarray(X, dtype=float).reshape(-1, len(self.scaler_mean))
        Z = (X - np.asarray(self.scaler_mean)) / np.asarray(self.scaler_scale)
        means = np.asarray(self.means)
        variances = np.asarray(self.variances)
        log_prob = (
            np.log(np.asarray(self.weights))[None, :]
            - 0.5 * np.sum(np.log(2 * math.pi * variances), axis=1)[None, :]
            - 0.5 * np.sum((Z[:, None, :] - means[None, :, :]) ** 2 / variances[None, :, :], axis=2)
        )
        best = np.argmax(log_prob, axis=1)
        shifted = log_prob - log_prob.max(axis=1, keepdims=True)
        posterior = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        return best, posterior[np.arange(len(best)), best]

    def assign(self, features: Sequence[float]) -> Assignment:
        index, probability = self.assign_matrix(np.asarray([features], dtype=float))
        return Assignment(int(index[0]), self.names[int(index[0])], float(probability[0]))

    def assign_leaders(self, leaders: Mapping[K, LeaderFigures | Placing]) -> dict[K, Assignment]:
        """Assign every leader with all features shown; the others are left out."""
        keys, X = feature_matrix(leaders, self.dimension_ids)
        if not keys:
            return {}
        indexes, probabilities = self.assign_matrix(X)
        return {
            key: Assignment(int(i), self.names[int(i)], float(p))
            for key, i, p in zip(keys, indexes, probabilities, strict=True)
        }


@dataclass(frozen=True)
class TooFewLeaders:
    """The honest answer when the reference population is too small for profiles."""

    n_leaders: int
    minimum: int = MIN_LEADERS

    @property
    def message(self) -> str:
        return (
            f"Profiles need at least {self.minimum} leaders with observer scores and a "
            f"self-assessment on this questionnaire; there are {self.n_leaders}. "
            "The self-other agreement types are shown instead."
        )


def fit_profiles(
    reference: np.ndarray,
    *,
    instrument_id: str,
    instrument_version: int,
    dimension_ids: Sequence[str],
    dimension_names: Sequence[str],
    random_state: int = DEFAULT_SEED,
    n_bootstrap: int = 50,
    min_leaders: int = MIN_LEADERS,
    fitted_at: datetime | None = None,
) -> ProfileModel | TooFewLeaders:
    """Fit profiles to a reference population's feature rows, or say there are too few."""
    n = int(reference.shape[0])
    if n < min_leaders:
        return TooFewLeaders(n, min_leaders)
    estimator = LeaderProfiles(
        tuple(dimension_names),
        random_state=random_state,
        n_bootstrap=n_bootstrap,
        min_leaders=min_leaders,
    ).fit(reference)
    return ProfileModel.from_estimator(
        estimator,
        instrument_id=instrument_id,
        instrument_version=instrument_version,
        dimension_ids=dimension_ids,
        fitted_at=fitted_at,
    )
