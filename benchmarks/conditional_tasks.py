"""Conditional tuning tasks for ``benchmarks.conditional``: a scikit-learn model choice and a synthetic tree.

``sklearn_models``: which classifier, and then that classifier's own knobs, on the bundled breast
cancer data (569 x 30, standardised inside the pipeline); the objective is the 3-fold
cross-validated error (1 - accuracy, folds fixed; every estimator with randomness seeded, so a
configuration always gets the same error: saga, the elastic-net solver, shuffles). Four families: SVM (C, gamma), random forest
(trees, depth, max_features; seed fixed), k-nearest neighbours (k, weights) and logistic
regression (C, penalty -> l1_ratio under elasticnet: a third level).

``synthetic_tree``: a three-level tree with a known optimum 0.397887 (Branin's minimum, reached
only in the ``branin`` branch with ``shift`` false); the other branches have worse minima
(0.5 in ``bowl``, 0.431 in ``wave``) so that a method must both pick the branch and tune inside it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable


@dataclass(frozen=True)
class ConditionalTask:
    """A conditional space (API parameter dicts) and an objective to minimise."""

    name: str
    parameters: list[dict[str, Any]]
    objective: Callable[[dict[str, Any]], float]
    optimum: float | None


# ---------------------------------------------------------------------------------------- sklearn
SKLEARN_PARAMETERS: list[dict[str, Any]] = [
    {"name": "model", "type": "categorical", "choices": ["svm", "forest", "knn", "logreg"]},
    {"name": "svm_C", "type": "float", "low": 1e-2, "high": 1e3, "log": True, "when": {"parent": "model", "values": ["svm"]}},
    {"name": "svm_gamma", "type": "float", "low": 1e-5, "high": 1.0, "log": True, "when": {"parent": "model", "values": ["svm"]}},
    {"name": "trees", "type": "int", "low": 10, "high": 100, "step": 10, "when": {"parent": "model", "values": ["forest"]}},
    {"name": "depth", "type": "int", "low": 1, "high": 12, "when": {"parent": "model", "values": ["forest"]}},
    {"name": "max_features", "type": "float", "low": 0.1, "high": 1.0, "when": {"parent": "model", "values": ["forest"]}},
    {"name": "k", "type": "int", "low": 1, "high": 60, "log": True, "when": {"parent": "model", "values": ["knn"]}},
    {"name": "distance_weights", "type": "bool", "when": {"parent": "model", "values": ["knn"]}},
    {"name": "logreg_C", "type": "float", "low": 1e-4, "high": 1e2, "log": True, "when": {"parent": "model", "values": ["logreg"]}},
    {"name": "penalty", "type": "categorical", "choices": ["l2", "elasticnet"], "when": {"parent": "model", "values": ["logreg"]}},
    {"name": "l1_ratio", "type": "float", "low": 0.0, "high": 1.0, "when": {"parent": "penalty", "values": ["elasticnet"]}},
    {"name": "folds", "type": "fixed", "value": 3},
]


@lru_cache(maxsize=1)
def _data():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def sklearn_error(params: dict[str, Any]) -> float:
    """3-fold cross-validated error of the configured classifier."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    model = params["model"]
    if model == "svm":
        estimator = SVC(C=params["svm_C"], gamma=params["svm_gamma"])
    elif model == "forest":
        estimator = RandomForestClassifier(n_estimators=params["trees"], max_depth=params["depth"],
                                           max_features=params["max_features"], random_state=0, n_jobs=1)
    elif model == "knn":
        estimator = KNeighborsClassifier(n_neighbors=params["k"],
                                         weights="distance" if params["distance_weights"] else "uniform")
    else:
        if params["penalty"] == "elasticnet":
            estimator = LogisticRegression(C=params["logreg_C"], penalty="elasticnet", l1_ratio=params["l1_ratio"],
                                           solver="saga", max_iter=300, random_state=0)
        else:
            estimator = LogisticRegression(C=params["logreg_C"], max_iter=300)
    X, y = _data()
    folds = StratifiedKFold(n_splits=int(params["folds"]), shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accuracy = cross_val_score(make_pipeline(StandardScaler(), estimator), X, y, cv=folds).mean()
    return float(1.0 - accuracy)


# ---------------------------------------------------------------------------------------- synthetic
SYNTHETIC_PARAMETERS: list[dict[str, Any]] = [
    {"name": "branch", "type": "categorical", "choices": ["bowl", "branin", "wave"]},
    {"name": "a", "type": "float", "low": -3.0, "high": 3.0, "when": {"parent": "branch", "values": ["bowl"]}},
    {"name": "b", "type": "float", "low": -3.0, "high": 3.0, "when": {"parent": "branch", "values": ["bowl"]}},
    {"name": "u", "type": "float", "low": -5.0, "high": 10.0, "when": {"parent": "branch", "values": ["branin"]}},
    {"name": "v", "type": "float", "low": 0.0, "high": 15.0, "when": {"parent": "branch", "values": ["branin"]}},
    {"name": "shift", "type": "bool", "when": {"parent": "branch", "values": ["branin"]}},
    {"name": "n", "type": "int", "low": 1, "high": 8, "when": {"parent": "branch", "values": ["wave"]}},
    {"name": "mode", "type": "categorical", "choices": ["flat", "tilted"], "when": {"parent": "branch", "values": ["wave"]}},
    {"name": "t", "type": "float", "low": 0.0, "high": 1.0, "step": 0.05, "when": {"parent": "mode", "values": ["tilted"]}},
]


def branin(u: float, v: float) -> float:
    b, c, r, s, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return (v - b * u ** 2 + c * u - r) ** 2 + s * (1 - t) * math.cos(u) + s


def synthetic_value(params: dict[str, Any]) -> float:
    """The synthetic tree's value (minimum 0.397887 at a Branin minimiser with shift false)."""
    if params["branch"] == "bowl":
        return 0.5 + (params["a"] - 1.0) ** 2 + (params["b"] + 2.0) ** 2
    if params["branch"] == "branin":
        return branin(params["u"], params["v"]) + (1.0 if params["shift"] else 0.0)
    base = 0.6 + 0.3 * (1 + math.cos(params["n"] * 0.9)) + 0.2 * abs(params["n"] - 5) / 4
    if params["mode"] == "tilted":
        return base - 0.25 + (params["t"] - 0.35) ** 2 * 4
    return base


TASKS: dict[str, ConditionalTask] = {
    "sklearn_models": ConditionalTask("sklearn_models", SKLEARN_PARAMETERS, sklearn_error, None),
    "synthetic_tree": ConditionalTask("synthetic_tree", SYNTHETIC_PARAMETERS, synthetic_value, 0.397887),
}
