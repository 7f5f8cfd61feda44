"""Search spaces shared by the space tests: a three-level conditional tree and the other kinds."""

from __future__ import annotations

#: model -> (svm: C, kernel -> (poly: degree, coef0 -> ...), rf: depth, n_trees, knn: k), plus a fixed value
THREE_LEVEL_TREE = [
    {"name": "degree", "type": "int", "low": 2, "high": 5, "when": {"parent": "kernel", "values": ["poly"]}},
    {"name": "model", "type": "categorical", "choices": ["svm", "rf", "knn"]},
    {"name": "C", "type": "float", "low": 1e-3, "high": 1e3, "log": True, "when": {"parent": "model", "values": ["svm"]}},
    {"name": "kernel", "type": "categorical", "choices": ["rbf", "poly", "linear"],
     "when": {"parent": "model", "values": ["svm"]}},
    {"name": "shrink", "type": "bool", "when": {"parent": "degree", "values": [3, 4]}},
    {"name": "depth", "type": "int", "low": 2, "high": 20, "step": 2, "when": {"parent": "model", "values": ["rf"]}},
    {"name": "max_features", "type": "float", "low": 0.1, "high": 1.0, "step": 0.1,
     "when": {"parent": "model", "values": ["rf"]}},
    {"name": "k", "type": "int", "low": 1, "high": 30, "when": {"parent": "model", "values": ["knn"]}},
    {"name": "scale", "type": "bool"},
    {"name": "seed", "type": "fixed", "value": 17},
]


def active_names(params: dict) -> set[str]:
    """The parameters that must be present in a point of THREE_LEVEL_TREE (worked out by hand)."""
    names = {"model", "scale", "seed"}
    if params["model"] == "svm":
        names |= {"C", "kernel"}
        if params["kernel"] == "poly":
            names.add("degree")
            if params["degree"] in (3, 4):
                names.add("shrink")
    elif params["model"] == "rf":
        names |= {"depth", "max_features"}
    else:
        names.add("k")
    return names


def check_point(params: dict) -> None:
    """Assert a point of THREE_LEVEL_TREE: exactly the active parameters, each valid (step, bool, fixed)."""
    assert set(params) == active_names(params), params
    assert params["seed"] == 17 and isinstance(params["scale"], bool)
    if "C" in params:
        assert 1e-3 <= params["C"] <= 1e3
    if "degree" in params:
        assert params["degree"] in (2, 3, 4, 5)
    if "shrink" in params:
        assert isinstance(params["shrink"], bool)
    if "depth" in params:
        assert params["depth"] in range(2, 21, 2)
    if "max_features" in params:
        assert any(abs(params["max_features"] - v / 10) < 1e-12 for v in range(1, 11)), params
    if "k" in params:
        assert isinstance(params["k"], int) and 1 <= params["k"] <= 30
