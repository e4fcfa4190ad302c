"""Fitting leader profiles with scikit-learn (docs/scoring.md, "Profiles"); :mod:`assessment.core.profiles` holds
what a fitted model becomes: plain data that names profiles and assigns leaders.

Kept apart because scikit-learn takes most of a second to import and only fitting needs it:
pages, exports and CLI commands assign leaders to a stored model with NumPy alone.

Pure: numbers in, numbers out, no Flask and no database.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from assessment.core.profiles import (
    DEFAULT_SEED,
    MIN_LEADERS,
    ProfileModel,
    TooFewLeaders,
    profile_names,
)

SILHOUETTE_SAMPLE = 2000
"""Silhouette is O(n^2); above this many leaders it is estimated on a seeded sample."""


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
        labels: np.ndarray = self.mixture_.predict(self.scaler_.transform(X))
        return labels

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


def model_from_estimator(
    estimator: LeaderProfiles,
    *,
    instrument_id: str,
    instrument_version: int,
    dimension_ids: Sequence[str],
    fitted_at: datetime | None = None,
) -> ProfileModel:
    """The fitted estimator's numbers as plain data (what is stored and assigns leaders)."""
    check_is_fitted(estimator, "mixture_")
    mixture = estimator.mixture_
    sizes = np.bincount(estimator.labels_, minlength=estimator.k_)
    return ProfileModel(
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
    return model_from_estimator(
        estimator,
        instrument_id=instrument_id,
        instrument_version=instrument_version,
        dimension_ids=dimension_ids,
        fitted_at=fitted_at,
    )
