"""Encoding of parameter dictionaries to tensors and back.

One column per parameter (``D = len(parameters)``):

* float: the unit interval, ``u = (x - low) / (high - low)`` (``log`` space when ``log=True``);
* int: the unit interval over the *widened* range ``[low - 0.5, high + 0.5]`` (log space when
  ``log=True``), so that integer ``n`` owns the cell ``[n - 0.5, n + 0.5]``. With a linear
  scale every integer owns an equal share ``1 / (high - low + 1)`` of ``[0, 1]``, hence a
  uniform (or Sobol) ``u`` gives each integer equal probability. The canonical encoding of
  ``n`` is the image of ``n`` itself (the cell centre on a linear scale);
* categorical: the choice index ``0..k-1`` stored as a float (what BoTorch's mixed
  categorical kernel expects; a surrogate wanting one-hot encodes it itself).

``decode`` clamps and rounds, so any point of the box ``bounds()`` decodes to a valid
parameter dict; ``canonicalize`` = ``encode(decode(x))``, vectorised.
Hand-written because the service needs exact validation messages and JSON-plain values.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from service.space.params import CategoricalParam, FloatParam, IntParam, validate_parameter_list

AnyParam = FloatParam | IntParam | CategoricalParam


class SpaceError(ValueError):
    """A parameter value (or dict) does not fit the search space.

    Attributes:
        field: the parameter name concerned, or None for whole-dict problems.
        message: what is wrong.
    """

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"parameter '{field}': {message}" if field is not None else message)


def _is_number(value: Any) -> bool:
    """True for real numbers (Python or numpy), False for bool and everything else."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class SearchSpace:
    """A box of float/int/categorical parameters with a tensor encoding (see module doc).

    Args:
        parameters: 1..100 parameter models with unique names.
    """

    def __init__(self, parameters: Sequence[AnyParam]) -> None:
        try:
            self.parameters: list[AnyParam] = validate_parameter_list(list(parameters))
        except ValueError as exc:
            raise SpaceError(None, str(exc)) from exc
        self.names: list[str] = [p.name for p in self.parameters]
        self.dim: int = len(self.parameters)
        self.categorical_dims: list[int] = [
            i for i, p in enumerate(self.parameters) if isinstance(p, CategoricalParam)
        ]
        self.integer_dims: list[int] = [
            i for i, p in enumerate(self.parameters) if isinstance(p, IntParam)
        ]
        self.continuous_dims: list[int] = [
            i for i, p in enumerate(self.parameters) if isinstance(p, FloatParam)
        ]
        self.n_choices: dict[int, int] = {
            i: len(self.parameters[i].choices) for i in self.categorical_dims  # type: ignore[union-attr]
        }
        self._index = {name: i for i, name in enumerate(self.names)}

    def __repr__(self) -> str:
        return f"SearchSpace({self.names!r})"

    # ------------------------------------------------------------------ scales
    @staticmethod
    def _scale(p: FloatParam | IntParam) -> tuple[float, float, bool]:
        """(lo, hi, log) of the interval mapped onto [0, 1] (ints widened by 0.5)."""
        lo, hi = float(p.low), float(p.high)
        if isinstance(p, IntParam):
            lo, hi = lo - 0.5, hi + 0.5
        if p.log:
            return math.log(lo), math.log(hi), True
        return lo, hi, False

    def bounds(self, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> Tensor:
        """Box of the encoding, shape ``(2, D)``: ``[0, 1]`` or ``[0, k-1]`` for categoricals."""
        b = torch.zeros(2, self.dim, dtype=dtype, device=device)
        b[1] = 1.0
        for i, k in self.n_choices.items():
            b[1, i] = float(k - 1)
        return b

    # ------------------------------------------------------------------ encode
    def _encode_value(self, p: AnyParam, value: Any) -> float:
        if isinstance(p, CategoricalParam):
            index = p.index_of(value) if (isinstance(value, str) or _is_number(value)) else None
            if index is None:
                raise SpaceError(p.name, f"{value!r} is not one of the choices {p.choices!r}")
            return float(index)
        if not _is_number(value):
            kind = "an integer" if isinstance(p, IntParam) else "a number"
            raise SpaceError(p.name, f"must be {kind}, got {type(value).__name__} {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise SpaceError(p.name, f"must be finite, got {value!r}")
        if isinstance(p, IntParam) and not number.is_integer():
            raise SpaceError(p.name, f"must be an integer, got {value!r}")
        if not (p.low <= number <= p.high):
            raise SpaceError(p.name, f"{value!r} is out of bounds [{p.low}, {p.high}]")
        lo, hi, log = self._scale(p)
        t = math.log(number) if log else number
        return min(max((t - lo) / (hi - lo), 0.0), 1.0)

    def encode(self, params: Mapping[str, Any]) -> Tensor:
        """Encode one parameter dict.

        Args:
            params: ``{name: value}`` with exactly the space's names.

        Returns:
            Tensor of shape ``(D,)``, float64.

        Raises:
            SpaceError: unknown or missing names, wrong types (bool is not a number), NaN/inf,
                values out of bounds, non-integers for ints, unknown choices.
        """
        if not isinstance(params, Mapping):
            raise SpaceError(None, f"params must be an object mapping names to values, got {type(params).__name__}")
        for name in params:
            if name not in self._index:
                raise SpaceError(str(name), "unknown parameter")
        for name in self.names:
            if name not in params:
                raise SpaceError(name, "missing value")
        values = [self._encode_value(p, params[p.name]) for p in self.parameters]
        return torch.tensor(values, dtype=torch.float64)

    def encode_many(self, rows: Sequence[Mapping[str, Any]]) -> Tensor:
        """Encode several parameter dicts: ``n`` dicts -> tensor ``(n, D)`` float64."""
        if len(rows) == 0:
            return torch.zeros(0, self.dim, dtype=torch.float64)
        return torch.stack([self.encode(r) for r in rows])

    # ------------------------------------------------------------------ decode
    def _decode_value(self, p: AnyParam, u: float) -> Any:
        if math.isnan(u):
            raise SpaceError(p.name, "cannot decode NaN")
        if isinstance(p, CategoricalParam):
            index = min(max(int(math.floor(u + 0.5)), 0), len(p.choices) - 1)
            return p.choices[index]
        u = min(max(u, 0.0), 1.0)
        lo, hi, log = self._scale(p)
        t = lo + u * (hi - lo)
        x = math.exp(t) if log else t
        if isinstance(p, IntParam):
            return int(min(max(math.floor(x + 0.5), p.low), p.high))
        # 15 significant digits hide last-bit noise of the affine/log map (1e-3, not 0.0010000000000000002)
        return float(min(max(float(f"{x:.15g}"), p.low), p.high))

    def decode(self, x: Tensor) -> dict[str, Any]:
        """Decode one encoded point ``x`` of shape ``(D,)`` to ``{name: value}``.

        Out-of-box coordinates are clamped, ints and categorical indices rounded; values are
        plain Python ``float``/``int``/``str`` (JSON-ready).
        """
        if x.shape != (self.dim,):
            raise SpaceError(None, f"expected a tensor of shape ({self.dim},), got {tuple(x.shape)}")
        coords = x.detach().to(device="cpu", dtype=torch.float64).tolist()
        return {p.name: self._decode_value(p, u) for p, u in zip(self.parameters, coords)}

    def decode_many(self, X: Tensor) -> list[dict[str, Any]]:
        """Decode ``X`` of shape ``(n, D)`` to a list of ``n`` parameter dicts."""
        if X.dim() != 2:
            raise SpaceError(None, f"expected a tensor of shape (n, {self.dim}), got {tuple(X.shape)}")
        return [self.decode(row) for row in X]

    # ------------------------------------------------------------------ canonical
    def canonicalize(self, X: Tensor) -> Tensor:
        """Snap points to representable values, ``encode(decode(x))`` vectorised.

        Args:
            X: ``(..., D)`` encoded points (any float dtype/device).

        Returns:
            ``(..., D)`` tensor, same dtype/device: float columns clamped to ``[0, 1]``, int
            columns moved to the encoding of the nearest admissible integer, categorical
            columns rounded to an index in ``0..k-1``.
        """
        out = X.clone()
        for i in self.continuous_dims:
            out[..., i] = X[..., i].clamp(0.0, 1.0)
        for i in self.categorical_dims:
            out[..., i] = X[..., i].round().clamp(0.0, float(self.n_choices[i] - 1))
        for i in self.integer_dims:
            p = self.parameters[i]
            lo, hi, log = self._scale(p)  # type: ignore[arg-type]
            col = X[..., i].to(torch.float64).clamp(0.0, 1.0)
            t = lo + col * (hi - lo)
            value = (t.exp() if log else t)
            n = torch.floor(value + 0.5).clamp(float(p.low), float(p.high))  # type: ignore[union-attr]
            t_n = n.log() if log else n
            out[..., i] = ((t_n - lo) / (hi - lo)).clamp(0.0, 1.0).to(X.dtype)
        return out

    def integer_encodings(self, i: int, dtype: torch.dtype = torch.float64,
                          device: torch.device | None = None) -> Tensor:
        """Encodings of all integers ``low..high`` of int column ``i``, shape ``(high - low + 1,)``, ascending."""
        p = self.parameters[i]
        if not isinstance(p, IntParam):
            raise SpaceError(p.name, "not an integer parameter")
        lo, hi, log = self._scale(p)
        values = torch.arange(p.low, p.high + 1, dtype=torch.float64)
        t = values.log() if log else values
        return ((t - lo) / (hi - lo)).to(dtype=dtype, device=device)

    def unit_to_encoded(self, U: Tensor) -> Tensor:
        """Map points of the unit cube ``(..., D)`` into the encoding, uniformly per column.

        Float columns are kept, int columns snapped (equal share per integer on a linear
        scale), categorical column ``u`` becomes index ``floor(u * k)`` (clamped to ``k - 1``).
        Used for (quasi-)random designs.
        """
        out = U.clone()
        for i, k in self.n_choices.items():
            out[..., i] = torch.floor(U[..., i] * k).clamp(0.0, float(k - 1))
        return self.canonicalize(out)
