"""Synthetic benchmark problems (minimisation) shared by the policy and HTTP benchmarks.

Each problem is a search space (a list of ``FloatParam``), an objective taking a
parameter dict and returning a float to MINIMISE, and its known optimum. Functions come
from ``botorch.test_functions`` (noise-free), except the non-stationary one below.

Non-stationary problem ``gramacy_lee2d`` (Gramacy & Lee 2008, the classic test of
treed / non-stationary GPs): f(x) = x1 exp(-x1^2 - x2^2) on [-2, 6]^2. The function
varies sharply in the corner around the origin and is flat (~0) over more than 3/4 of
the box, so no single length scale fits it: a stationary kernel must either smooth away
the bump or expect wiggles everywhere. Minimum -exp(-1/2) / sqrt(2) at (-1/sqrt(2), 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
import math

from botorch.test_functions import Ackley, Branin, Hartmann, Levy
from botorch.test_functions.synthetic import SyntheticTestFunction

from service.space.params import FloatParam


@dataclass(frozen=True)
class Problem:
    """A minimisation benchmark.

    Attributes:
        name: short identifier used on the command line.
        parameters: the search space, one ``FloatParam`` per input ``x0, x1, ...``.
        objective: ``{name: value}`` -> value to minimise.
        optimum: the global minimum value.
        n_initial: recommended initial-design size.
        n_total: recommended total number of evaluations.
    """

    name: str
    parameters: list[FloatParam]
    objective: Callable[[Mapping[str, float]], float]
    optimum: float
    n_initial: int
    n_total: int


def _from_botorch(name: str, fn: SyntheticTestFunction, n_initial: int, n_total: int) -> Problem:
    """Wrap a BoTorch test function (minimisation form) as a ``Problem``."""
    names = [f"x{i}" for i in range(fn.dim)]
    parameters = [
        FloatParam(name=n, low=float(lo), high=float(hi)) for n, (lo, hi) in zip(names, fn.bounds.T.tolist())
    ]

    def objective(params: Mapping[str, float]) -> float:
        x = torch.tensor([[float(params[n]) for n in names]], dtype=torch.float64)
        return float(fn.evaluate_true(x).item())

    return Problem(name, parameters, objective, float(fn.optimal_value), n_initial, n_total)


def _gramacy_lee2d(n_initial: int, n_total: int) -> Problem:
    """The non-stationary 2-d function of Gramacy & Lee (2008), see module docstring."""
    parameters = [FloatParam(name=n, low=-2.0, high=6.0) for n in ("x0", "x1")]

    def objective(params: Mapping[str, float]) -> float:
        x0, x1 = float(params["x0"]), float(params["x1"])
        return x0 * math.exp(-x0 * x0 - x1 * x1)

    optimum = -math.exp(-0.5) / math.sqrt(2.0)
    return Problem("gramacy_lee2d", parameters, objective, optimum, n_initial, n_total)


def get_problem(name: str) -> Problem:
    """The problem called ``name`` (one of ``PROBLEM_NAMES``)."""
    if name == "hartmann6":
        return _from_botorch(name, Hartmann(dim=6), n_initial=12, n_total=60)
    if name == "branin":
        return _from_botorch(name, Branin(), n_initial=5, n_total=30)
    if name == "ackley10":
        return _from_botorch(name, Ackley(dim=10), n_initial=20, n_total=100)
    if name == "levy10":
        return _from_botorch(name, Levy(dim=10), n_initial=20, n_total=100)
    if name == "gramacy_lee2d":
        return _gramacy_lee2d(n_initial=6, n_total=40)
    raise ValueError(f"unknown problem '{name}' (known: {PROBLEM_NAMES})")


PROBLEM_NAMES = ["hartmann6", "branin", "ackley10", "levy10", "gramacy_lee2d"]
