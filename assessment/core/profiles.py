"""Leader profiles (docs/scoring.md, "Profiles"): clusters of leaders by how others see them and how they see themselves.

Each leader is a vector of their Others score and their self-other gap per dimension,
standardised within the reference population (every leader with all of those figures shown,
in all data on the same instrument version). Gaussian mixtures with diagonal covariance
approximate the latent profile analysis used in research, so they are the primary model and the
number of profiles (2-6) is the one with the lowest BIC; k-means with the best silhouette is
reported beside it as a cross-check. Profiles are named from their standardised centroid in
words a leader understands, their stability is the mean adjusted Rand index over seeded
bootstrap refits, and the fitted model is kept as plain data (:meth:`ProfileModel.to_data`),
never as a pickle, which would run code when loaded. Fitting, with scikit-learn, is in
:mod:`assessment.core.profile_fitting`; this module needs only NumPy to assign leaders.

Below :data:`MIN_LEADERS` in the reference population fitting profiles is not honest (a mixture
of six dimensions needs dozens of leaders per profile to be more than noise): the result is
:class:`TooFewLeaders`, and reports fall back to the agreement types.

Pure: numbers in, numbers out, no Flask and no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from assessment.core.psychometrics import LeaderFigures, ShownScores

K = TypeVar("K")

MIN_LEADERS = 30
"""Fewest leaders in the reference population for which profiles are fitted (docs/scoring.md)."""
DEFAULT_SEED = 360
FORMAT = "cl360-profiles/1"
STANDOUT = 0.5
"""Standardised distance from the reference mean that a profile's name mentions."""


# -- features -----------------------------------------------------------------------------


def feature_names(dimension_ids: Sequence[str]) -> list[str]:
    return [f"others:{d}" for d in dimension_ids] + [f"gap:{d}" for d in dimension_ids]


def leader_features(
    figures: LeaderFigures | ShownScores, dimension_ids: Sequence[str]
) -> list[float] | None:
    """Others score and self-other gap per dimension, or ``None`` when any is not shown."""
    if not all(d in figures.others and d in figures.self_scores for d in dimension_ids):
        return None
    others = [figures.others[d] for d in dimension_ids]
    gaps = [figures.self_scores[d] - figures.others[d] for d in dimension_ids]
    return others + gaps


def feature_matrix(
    leaders: Mapping[K, LeaderFigures | ShownScores], dimension_ids: Sequence[str]
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

    def assign_leaders(
        self, leaders: Mapping[K, LeaderFigures | ShownScores]
    ) -> dict[K, Assignment]:
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
    status: ClassVar[str] = "too_few_leaders"

    @property
    def message(self) -> str:
        return (
            f"Profiles need at least {self.minimum} leaders with observer scores and a "
            f"self-assessment on this questionnaire; there are {self.n_leaders}. "
            "The self-other agreement types are shown instead."
        )


@dataclass(frozen=True)
class NotFittedYet:
    """Enough leaders for profiles, but no model stored for the questionnaire yet.

    Fitting takes seconds to minutes, so it is a job (started when a cohort closes, or
    ``cl360 profiles fit``), never work a page waits for; until it is done, reports say so.
    """

    n_leaders: int
    minimum: int = MIN_LEADERS
    status: ClassVar[str] = "not_fitted_yet"

    @property
    def message(self) -> str:
        return (
            f"Profiles have not been fitted yet on the {self.n_leaders} leaders of this "
            "questionnaire; they are fitted after a cohort closes, and reports made after "
            "that show them. The self-other agreement types are shown instead."
        )


Unavailable = TooFewLeaders | NotFittedYet
"""Why a report has no profiles."""
