"""Linear constraints on float and int parameters: ``sum_i a_i x_i (<= | >=) b``.

Written on the parameters' natural scale. On the encoding (``search_space``) a float or int
column without ``log`` is an affine image of its parameter, ``x = lo + u (hi - lo)``, so every
constraint is linear in the encoded point as well: BoTorch's ``optimize_acqf`` receives it as
``inequality_constraints``, and Sobol designs keep only the points that satisfy it. A log-scaled
parameter would make it non-linear and is refused. Points are judged feasible on their decoded
(rounded) values, so an int column rounded across the boundary is caught.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import linprog
from torch import Tensor

from service.space.params import FloatParam, IntParam
from service.space.search_space import SearchSpace

TOLERANCE = 1e-9  # relative slack when judging a decoded point


class ConstraintError(ValueError):
    """A constraint that cannot be used, with the field it concerns (e.g. ``parameter_constraints.0``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class LinearConstraint:
    """``sum coefficients[name] * x[name] <= bound`` (``op == "<="``) or ``>= bound``."""

    coefficients: Mapping[str, float]
    op: str
    bound: float

    def as_less_equal(self) -> tuple[dict[str, float], float]:
        """The same constraint as ``sum a_i x_i <= b``."""
        sign = 1.0 if self.op == "<=" else -1.0
        return {k: sign * float(v) for k, v in self.coefficients.items()}, sign * float(self.bound)


class LinearConstraints:
    """The linear constraints of a study on its search space.

    Args:
        space: the search space.
        constraints: the constraints (checked here: known float/int parameters without log,
            and jointly satisfiable on the box).

    Raises:
        ConstraintError: naming ``parameter_constraints.<i>``.
    """

    def __init__(self, space: SearchSpace, constraints: Sequence[LinearConstraint]) -> None:
        self.space = space
        self.constraints = list(constraints)
        for i, c in enumerate(self.constraints):
            field = f"parameter_constraints.{i}"
            if not c.coefficients:
                raise ConstraintError(field, "needs at least one coefficient")
            for name in c.coefficients:
                if name not in space.names:
                    raise ConstraintError(f"{field}.coefficients.{name}", f"unknown parameter '{name}'")
                p = space.parameters[space.names.index(name)]
                if not isinstance(p, (FloatParam, IntParam)):
                    raise ConstraintError(f"{field}.coefficients.{name}",
                                          f"parameter '{name}' is {p.type}; only float and int parameters can be constrained")
                if p.log:
                    raise ConstraintError(f"{field}.coefficients.{name}",
                                          f"parameter '{name}' is log-scaled: a linear constraint on it is not linear "
                                          "in the space the optimiser searches; constrain a parameter without log")
        if self.constraints and not self.satisfiable():
            raise ConstraintError("parameter_constraints", "no point of the search box satisfies all constraints together")

    def __bool__(self) -> bool:
        return bool(self.constraints)

    def satisfiable(self) -> bool:
        """Whether some point of the box (ints relaxed to reals) satisfies every constraint (a linear program)."""
        names = sorted({n for c in self.constraints for n in c.coefficients})
        rows, rhs = [], []
        for c in self.constraints:
            a, b = c.as_less_equal()
            rows.append([a.get(n, 0.0) for n in names])
            rhs.append(b)
        bounds = [(float(self._param(n).low), float(self._param(n).high)) for n in names]
        result = linprog(np.zeros(len(names)), A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
        return bool(result.status == 0)

    def _param(self, name: str) -> FloatParam | IntParam:
        return self.space.parameters[self.space.names.index(name)]  # type: ignore[return-value]

    def inequality_constraints(self, dtype: torch.dtype, device: torch.device | None = None
                               ) -> list[tuple[Tensor, Tensor, float]]:
        """BoTorch's form on the encoding: ``sum coefficients * X[..., indices] >= rhs`` per constraint."""
        out = []
        for c in self.constraints:
            a, b = c.as_less_equal()
            indices, coefficients, offset = [], [], 0.0
            for name, value in a.items():
                i = self.space.names.index(name)
                p = self._param(name)
                lo, hi = (p.low - 0.5, p.high + 0.5) if isinstance(p, IntParam) else (p.low, p.high)
                indices.append(i)
                coefficients.append(-value * (hi - lo))  # a x <= b  <=>  -a (hi - lo) u >= a lo - b
                offset += value * lo
            out.append((torch.tensor(indices, dtype=torch.long, device=device),
                        torch.tensor(coefficients, dtype=dtype, device=device), float(offset - b)))
        return out

    def satisfied(self, params: Mapping[str, Any]) -> bool:
        """Whether one decoded parameter dict satisfies every constraint."""
        for c in self.constraints:
            a, b = c.as_less_equal()
            total = sum(v * float(params[n]) for n, v in a.items())
            scale = max(1.0, abs(b), sum(abs(v * float(params[n])) for n, v in a.items()))
            if total > b + TOLERANCE * scale:
                return False
        return True

    def feasible(self, X: Tensor) -> Tensor:
        """``(n,)`` bool: which encoded points ``(n, D)`` satisfy every constraint once decoded."""
        if not self.constraints:
            return torch.ones(X.shape[0], dtype=torch.bool, device=X.device)
        return torch.tensor([self.satisfied(p) for p in self.space.decode_many(X)], dtype=torch.bool, device=X.device)


def parse_constraints(raw: Sequence[Mapping[str, Any]] | None) -> list[LinearConstraint]:
    """Constraints from their JSON form ``{coefficients, op, bound}``."""
    return [LinearConstraint(dict(c["coefficients"]), c["op"], float(c["bound"])) for c in (raw or [])]
