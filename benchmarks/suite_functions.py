"""Synthetic minimisation problems of the benchmark suite (``python -m benchmarks.suite``), known optima.

Thirteen functions from the Bayesian-optimisation literature beyond the five of
``benchmarks.problems``, chosen to cover what those five do not: dimensions 2 to 20, many local
minima, values spanning orders of magnitude, a heavy-tailed objective, log-scaled parameters, and a
mixed categorical + integer + float space. Each is a ``benchmarks.problems.Problem`` whose
``parameters`` are the service's parameter models (``FloatParam`` with ``log`` where stated,
``IntParam``, ``CategoricalParam``) and whose ``objective`` maps a ``{name: value}`` dict to a float
to MINIMISE. ``optimum`` is the known global minimum value.

=================  ====  ==================================================================
name               dim   what it tests
=================  ====  ==================================================================
six_hump_camel     2     two global and four local minima; values ~ -1 to 160
hartmann3          3     the 3-d Hartmann, four local minima
log_scaled3        3     float parameters with ``log: true`` over 1e-4..1e2; a rippled bowl in log10 x
rosenbrock4        4     a curved valley; values 0 to ~1e6 (ill-scaled)
rastrigin4         4     a regular grid of ~10^4 local minima
shekel4            4     ten narrow basins over a flat plateau (Shekel m=10)
heavy_tailed4      4     exp of a quadratic: values from 1 to ~1e10 (heavy right tail)
mixed4             4     a categorical (3 choices), an integer (0..20) and two floats
styblinski_tang5   5     2^5 local minima, optimum in a corner basin
michalewicz5       5     steep narrow ridges (m=10), flat elsewhere
griewank8          8     wide box [-600, 600]^8, a bowl with small product-of-cosines ripple
powell8            8     a quartic valley with a singular Hessian at the optimum
ackley20_eff4      20    Ackley on 4 of the 20 inputs (low effective dimension), shifted optimum
=================  ====  ==================================================================

Budgets (``n_total``, ``n_initial``): 40 (8) in 2-3 d, 50 (10) in 4-8 d, 60 (12) in 20 d.

BoTorch's ``botorch.test_functions`` supply the standard functions (noise-free ``evaluate_true``,
BoTorch's default boxes); ``log_scaled3``, ``heavy_tailed4``, ``mixed4`` and ``ackley20_eff4`` are
written here and defined in their builders' docstrings.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from botorch.test_functions import (
    Ackley, Griewank, Hartmann, Michalewicz, Powell, Rastrigin, Rosenbrock, Shekel, SixHumpCamel, StyblinskiTang,
)
from botorch.test_functions.synthetic import SyntheticTestFunction

from benchmarks.problems import Problem
from service.space.params import CategoricalParam, FloatParam, IntParam


def _budget(dim: int) -> tuple[int, int]:
    """``(n_initial, n_total)`` by input dimension: 8/40 up to 3-d, 10/50 up to 8-d, 12/60 above."""
    if dim <= 3:
        return 8, 40
    if dim <= 8:
        return 10, 50
    return 12, 60


def _botorch(name: str, fn: SyntheticTestFunction, optimum: float | None = None) -> Problem:
    """A BoTorch test function as a ``Problem`` on its default box, inputs ``x0 .. x{d-1}``."""
    names = [f"x{i}" for i in range(fn.dim)]
    parameters = [FloatParam(name=n, low=float(lo), high=float(hi)) for n, (lo, hi) in zip(names, fn.bounds.T.tolist())]

    def objective(params: Mapping[str, float]) -> float:
        x = torch.tensor([[float(params[n]) for n in names]], dtype=torch.float64)
        return float(fn.evaluate_true(x).item())

    n_initial, n_total = _budget(fn.dim)
    value = float(fn.optimal_value) if optimum is None else optimum
    return Problem(name, parameters, objective, value, n_initial, n_total)


def _log_scaled3() -> Problem:
    """Three floats ``x_i`` in [1e-4, 1e2] searched in log space (``log: true``).

    With ``u_i = log10 x_i`` in [-4, 2] and targets ``c = (-3, 0.5, 1.5)``:
    f(x) = sum_i (u_i - c_i)^2 + 0.5 * sum_i (1 - cos(2 pi (u_i - c_i))); minimum 0 at u = c,
    i.e. x = (1e-3, ~3.16, ~31.6). On a linear scale the optimum of ``x0`` lies in the first
    0.001 % of its range, so a method that ignores ``log`` cannot find it.
    """
    targets = (-3.0, 0.5, 1.5)
    parameters = [FloatParam(name=f"x{i}", low=1e-4, high=1e2, log=True) for i in range(3)]

    def objective(params: Mapping[str, float]) -> float:
        total = 0.0
        for i, c in enumerate(targets):
            d = math.log10(float(params[f"x{i}"])) - c
            total += d * d + 0.5 * (1.0 - math.cos(2.0 * math.pi * d))
        return total

    return Problem("log_scaled3", parameters, objective, 0.0, *_budget(3))


def _heavy_tailed4() -> Problem:
    """exp(||x - c||^2 / 3) on [-3, 3]^4 with c = (1, -1, 0.5, 2); minimum 1 at c.

    A unimodal function whose values run from 1 to about 1e10 at the far corner: the few
    enormous values of a random design dominate any model fitted to raw values.
    """
    centre = (1.0, -1.0, 0.5, 2.0)
    parameters = [FloatParam(name=f"x{i}", low=-3.0, high=3.0) for i in range(4)]

    def objective(params: Mapping[str, float]) -> float:
        return math.exp(sum((float(params[f"x{i}"]) - c) ** 2 for i, c in enumerate(centre)) / 3.0)

    return Problem("heavy_tailed4", parameters, objective, 1.0, *_budget(4))


_BRANIN_MIN = 0.397887357729738


def _branin_unit(u: float, v: float) -> float:
    """Branin on the unit square (``x1 = 15 u - 5``, ``x2 = 15 v``); minimum 0.397887."""
    x1, x2 = 15.0 * u - 5.0, 15.0 * v
    b, c, t = 5.1 / (4.0 * math.pi**2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0


def _mixed4() -> Problem:
    """A categorical ``kind`` in {bowl, branin, wave}, an integer ``n`` in 0..20, floats ``x0, x1`` in [0, 1].

    f = g_kind(x0, x1) + 0.02 (n - n*_kind)^2 with n* = (4, 13, 18):
    ``bowl``: 0.5 + 4 ((x0 - 0.3)^2 + (x1 - 0.7)^2)  (minimum 0.5);
    ``branin``: Branin on the unit square / 10  (minimum 0.0397887, three global points);
    ``wave``: 0.2 + 0.5 (1 - cos(6 pi x0) cos(4 pi x1)) + (x0 - 0.5)^2  (minimum 0.2 at (0.5, 0)).
    Global minimum 0.0397887 (``kind = branin``, ``n = 13``): the integer optimum moves with the
    category, so the two must be searched together.
    """
    parameters = [
        CategoricalParam(name="kind", choices=["bowl", "branin", "wave"]),
        IntParam(name="n", low=0, high=20),
        FloatParam(name="x0", low=0.0, high=1.0),
        FloatParam(name="x1", low=0.0, high=1.0),
    ]
    n_star = {"bowl": 4, "branin": 13, "wave": 18}

    def objective(params: Mapping[str, object]) -> float:
        kind, n = str(params["kind"]), int(params["n"])  # type: ignore[call-overload]
        x0, x1 = float(params["x0"]), float(params["x1"])  # type: ignore[arg-type]
        if kind == "bowl":
            g = 0.5 + 4.0 * ((x0 - 0.3) ** 2 + (x1 - 0.7) ** 2)
        elif kind == "branin":
            g = _branin_unit(x0, x1) / 10.0
        else:
            g = 0.2 + 0.5 * (1.0 - math.cos(6.0 * math.pi * x0) * math.cos(4.0 * math.pi * x1)) + (x0 - 0.5) ** 2
        return g + 0.02 * (n - n_star[kind]) ** 2

    return Problem("mixed4", parameters, objective, _BRANIN_MIN / 10.0, *_budget(4))


def _ackley20_eff4() -> Problem:
    """Ackley (a=20, b=0.2, c=2 pi) of ``x[i] - 1`` for i in (2, 7, 11, 16), on [-5, 10]^20; minimum 0.

    The other 16 inputs are ignored (a low effective dimension, as in REMBO-style benchmarks);
    the shift keeps the optimum off the centre of the box.
    """
    active = (2, 7, 11, 16)
    parameters = [FloatParam(name=f"x{i}", low=-5.0, high=10.0) for i in range(20)]

    def objective(params: Mapping[str, float]) -> float:
        z = [float(params[f"x{i}"]) - 1.0 for i in active]
        d = len(z)
        part1 = -20.0 * math.exp(-0.2 * math.sqrt(sum(v * v for v in z) / d))
        part2 = -math.exp(sum(math.cos(2.0 * math.pi * v) for v in z) / d)
        return part1 + part2 + 20.0 + math.e

    return Problem("ackley20_eff4", parameters, objective, 0.0, *_budget(20))


_BUILDERS: dict[str, Callable[[], Problem]] = {
    "six_hump_camel": lambda: _botorch("six_hump_camel", SixHumpCamel()),
    "hartmann3": lambda: _botorch("hartmann3", Hartmann(dim=3)),
    "log_scaled3": _log_scaled3,
    "rosenbrock4": lambda: _botorch("rosenbrock4", Rosenbrock(dim=4)),
    "rastrigin4": lambda: _botorch("rastrigin4", Rastrigin(dim=4)),
    "shekel4": lambda: _botorch("shekel4", Shekel(m=10)),
    "heavy_tailed4": _heavy_tailed4,
    "mixed4": _mixed4,
    "styblinski_tang5": lambda: _botorch("styblinski_tang5", StyblinskiTang(dim=5)),
    "michalewicz5": lambda: _botorch("michalewicz5", Michalewicz(dim=5)),
    "griewank8": lambda: _botorch("griewank8", Griewank(dim=8)),
    "powell8": lambda: _botorch("powell8", Powell(dim=8)),
    "ackley20_eff4": _ackley20_eff4,
}

SYNTHETIC_NAMES: list[str] = list(_BUILDERS)


def get_synthetic(name: str) -> Problem:
    """The synthetic problem called ``name`` (one of ``SYNTHETIC_NAMES``)."""
    try:
        return _BUILDERS[name]()
    except KeyError:
        raise ValueError(f"unknown synthetic problem '{name}' (known: {SYNTHETIC_NAMES})") from None
