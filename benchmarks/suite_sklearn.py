"""Hyper-parameter tuning tasks of the benchmark suite (``python -m benchmarks.suite``), Bayesmark style.

Each task tunes one scikit-learn model on one of scikit-learn's BUNDLED datasets (nothing is
downloaded) and minimises a 3-fold cross-validated loss: classification error (1 - accuracy) or
log-loss for classifiers, mean squared error for regressors. Folds are fixed (shuffled with seed 0,
stratified for classifiers) and every model with randomness gets ``random_state=0``, so each
objective is a deterministic function of its parameters. Inputs are standardised inside the
pipeline (fitted on the training folds only). Search spaces follow Bayesmark's: log-scaled
regularisation strengths, learning rates and kernel widths, integer depths / sizes / neighbour
counts, and a categorical where the model has a natural one.

====================  ===================  ==========  =============================================
name                  model                data        loss; parameters
====================  ===================  ==========  =============================================
svc_breast            SVC (RBF)            breast      error; C, gamma (log)
logreg_breast         LogisticRegression   breast      log-loss; C (log), penalty {l1, l2}, intercept_scaling (log)
tree_breast           DecisionTree         breast      error; max_depth, min_samples_split, min_samples_leaf (int), max_features, criterion
rf_wine               RandomForest (20)    wine        log-loss; max_depth, min_samples_leaf (int), max_features, criterion
mlp_wine              MLPClassifier        wine        log-loss; hidden units (int, log), alpha, learning_rate_init (log)
ada_breast            AdaBoost (stumps)    breast      error; n_estimators (int), learning_rate (log)
knn_digits            KNeighbors           digits/600  log-loss; n_neighbors (int, log), weights {uniform, distance}, p (int 1..2)
gb_diabetes           GradientBoosting     diabetes    MSE; learning_rate (log), n_estimators, max_depth (int), subsample
enet_diabetes         ElasticNet, poly-2   diabetes    MSE; alpha (log), l1_ratio (on the 65 degree-2 features)
svr_diabetes          SVR (RBF)            diabetes    MSE; C, gamma, epsilon (log)
====================  ===================  ==========  =============================================

``digits/600``: the first 600 of the 1797 digit images (64 features), to keep one evaluation cheap.
MSE on diabetes is on the raw target (values around 3000; the best models reach about 2870 and
many settings come within 2 % of that, so these tasks separate methods less than the others). Every evaluation takes well under 0.5 s
on one core. The optimum of a tuning task is unknown: ``Problem.optimum`` is NaN and the suite
normalises by the best value any method found in the same run. Budgets: 40 evaluations (8 initial)
for 2-3 parameters, 50 (10) for 4-5.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from benchmarks.problems import Problem
from service.space.params import CategoricalParam, FloatParam, IntParam


@lru_cache(maxsize=None)
def _data(name: str) -> tuple[Any, Any]:
    """``(X, y)`` of a bundled dataset: ``X`` float64 (n, d), ``y`` (n,)."""
    from sklearn import datasets

    loaders = {"breast": datasets.load_breast_cancer, "wine": datasets.load_wine, "iris": datasets.load_iris,
               "digits": datasets.load_digits, "diabetes": datasets.load_diabetes}
    X, y = loaders[name](return_X_y=True)
    if name == "digits":
        X, y = X[:600], y[:600]
    return X, y


def _cv_loss(estimator: Any, data: str, loss: str) -> float:
    """3-fold cross-validated ``loss`` ("error", "logloss" or "mse") of ``estimator`` (standardised inputs)."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(data)
    folds = (KFold if loss == "mse" else StratifiedKFold)(n_splits=3, shuffle=True, random_state=0)
    scoring = {"error": "accuracy", "logloss": "neg_log_loss", "mse": "neg_mean_squared_error"}[loss]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of MLP / ElasticNet / liblinear at odd settings
        scores = cross_val_score(make_pipeline(StandardScaler(), estimator), X, y, cv=folds, scoring=scoring,
                                 error_score=float("nan"), n_jobs=1)
    mean = float(scores.mean())
    if not math.isfinite(mean):  # a failed fit scores as the worst sensible value rather than NaN
        return {"error": 1.0, "logloss": 10.0, "mse": float(_data(data)[1].var()) * 10.0}[loss]
    return 1.0 - mean if loss == "error" else -mean


def _svc(p: Mapping[str, Any]) -> float:
    from sklearn.svm import SVC

    return _cv_loss(SVC(C=float(p["C"]), gamma=float(p["gamma"])), "breast", "error")


def _logreg(p: Mapping[str, Any]) -> float:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=float(p["C"]), solver="liblinear", max_iter=200,
                               intercept_scaling=float(p["intercept_scaling"]),
                               **({"l1_ratio": 1.0} if p["penalty"] == "l1" else {"l1_ratio": 0.0}))
    return _cv_loss(model, "breast", "logloss")


def _tree(p: Mapping[str, Any]) -> float:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(max_depth=int(p["max_depth"]), min_samples_split=int(p["min_samples_split"]),
                                   min_samples_leaf=int(p["min_samples_leaf"]), max_features=float(p["max_features"]),
                                   criterion=str(p["criterion"]), random_state=0)
    return _cv_loss(model, "breast", "error")


def _rf(p: Mapping[str, Any]) -> float:
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=20, max_depth=int(p["max_depth"]),
                                   min_samples_leaf=int(p["min_samples_leaf"]), max_features=float(p["max_features"]),
                                   criterion=str(p["criterion"]), random_state=0, n_jobs=1)
    return _cv_loss(model, "wine", "logloss")


def _mlp(p: Mapping[str, Any]) -> float:
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(hidden_layer_sizes=(int(p["hidden"]),), alpha=float(p["alpha"]),
                          learning_rate_init=float(p["learning_rate_init"]), max_iter=100, random_state=0)
    return _cv_loss(model, "wine", "logloss")


def _ada(p: Mapping[str, Any]) -> float:
    from sklearn.ensemble import AdaBoostClassifier

    model = AdaBoostClassifier(n_estimators=int(p["n_estimators"]), learning_rate=float(p["learning_rate"]),
                               random_state=0)
    return _cv_loss(model, "breast", "error")


def _knn(p: Mapping[str, Any]) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=int(p["n_neighbors"]), weights=str(p["weights"]), p=int(p["p"]))
    return _cv_loss(model, "digits", "logloss")


def _gb(p: Mapping[str, Any]) -> float:
    from sklearn.ensemble import GradientBoostingRegressor

    model = GradientBoostingRegressor(learning_rate=float(p["learning_rate"]), n_estimators=int(p["n_estimators"]),
                                      max_depth=int(p["max_depth"]), subsample=float(p["subsample"]), random_state=0)
    return _cv_loss(model, "diabetes", "mse")


def _enet(p: Mapping[str, Any]) -> float:
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    model = make_pipeline(PolynomialFeatures(degree=2, include_bias=False), StandardScaler(),
                          ElasticNet(alpha=float(p["alpha"]), l1_ratio=float(p["l1_ratio"]), max_iter=1000))
    return _cv_loss(model, "diabetes", "mse")


def _svr(p: Mapping[str, Any]) -> float:
    from sklearn.svm import SVR

    return _cv_loss(SVR(C=float(p["C"]), gamma=float(p["gamma"]), epsilon=float(p["epsilon"])), "diabetes", "mse")


def _log(name: str, low: float, high: float) -> FloatParam:
    return FloatParam(name=name, low=low, high=high, log=True)


_SPECS: dict[str, tuple[Callable[[Mapping[str, Any]], float], list[Any]]] = {
    "svc_breast": (_svc, [_log("C", 1e-2, 1e3), _log("gamma", 1e-5, 1.0)]),
    "logreg_breast": (_logreg, [_log("C", 1e-4, 1e2), CategoricalParam(name="penalty", choices=["l1", "l2"]),
                                _log("intercept_scaling", 1e-2, 1e2)]),
    "tree_breast": (_tree, [IntParam(name="max_depth", low=1, high=15), IntParam(name="min_samples_split", low=2, high=40),
                            IntParam(name="min_samples_leaf", low=1, high=20),
                            FloatParam(name="max_features", low=0.1, high=1.0),
                            CategoricalParam(name="criterion", choices=["gini", "entropy"])]),
    "rf_wine": (_rf, [IntParam(name="max_depth", low=1, high=12), IntParam(name="min_samples_leaf", low=1, high=20),
                      FloatParam(name="max_features", low=0.05, high=1.0),
                      CategoricalParam(name="criterion", choices=["gini", "entropy"])]),
    "mlp_wine": (_mlp, [IntParam(name="hidden", low=2, high=64, log=True), _log("alpha", 1e-5, 1e1),
                        _log("learning_rate_init", 1e-4, 1e-1)]),
    "ada_breast": (_ada, [IntParam(name="n_estimators", low=5, high=50), _log("learning_rate", 1e-2, 3.0)]),
    "knn_digits": (_knn, [IntParam(name="n_neighbors", low=1, high=50, log=True),
                          CategoricalParam(name="weights", choices=["uniform", "distance"]),
                          IntParam(name="p", low=1, high=2)]),
    "gb_diabetes": (_gb, [_log("learning_rate", 1e-3, 1.0), IntParam(name="n_estimators", low=10, high=100),
                          IntParam(name="max_depth", low=1, high=6), FloatParam(name="subsample", low=0.5, high=1.0)]),
    "enet_diabetes": (_enet, [_log("alpha", 1e-5, 1e1), FloatParam(name="l1_ratio", low=0.0, high=1.0)]),
    "svr_diabetes": (_svr, [_log("C", 1e-2, 1e4), _log("gamma", 1e-5, 1.0), _log("epsilon", 1e-2, 1e2)]),
}

SKLEARN_NAMES: list[str] = list(_SPECS)


def get_sklearn(name: str) -> Problem:
    """The tuning task called ``name`` (one of ``SKLEARN_NAMES``); its ``optimum`` is NaN (unknown)."""
    try:
        objective, parameters = _SPECS[name]
    except KeyError:
        raise ValueError(f"unknown tuning task '{name}' (known: {SKLEARN_NAMES})") from None
    n_initial, n_total = (8, 40) if len(parameters) <= 3 else (10, 50)
    return Problem(name, list(parameters), objective, math.nan, n_initial, n_total)
