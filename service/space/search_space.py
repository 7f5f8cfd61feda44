"""Encoding of parameter dictionaries to tensors and back.

One column per *modelled* parameter (every kind but ``fixed``; ``D = dim``), filled by the
kind's codec (``param_base``): float columns in ``[0, 1]``, grid columns (ints, stepped
floats) at the encodings of their values, categorical and bool columns holding the choice
index. Fixed parameters have no column; ``decode`` adds their value.

Conditional parameters (``when``): a column whose parameter is inactive holds the fixed
imputation value ``INACTIVE_VALUE`` (0), so two points differing only in inactive parameters
are the same point, and an inactive dimension never pretends to be data (it is constant over
every point where it is inactive). ``active_mask`` says which columns are active, computed from
the parent columns; ``canonicalize`` snaps every column and imputes the inactive ones;
``decode`` returns only the active parameters; ``encode`` accepts exactly the active ones.
Hand-written because the service needs exact validation messages and JSON-plain values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from service.space.conditions import topological_order
from service.space.param_base import ParamBase, same_value
from service.space.params import validate_parameter_list

INACTIVE_VALUE = 0.0
MATCH_TOLERANCE = 1e-6


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


class SearchSpace:
    """Parameters with a tensor encoding (see module doc).

    Args:
        parameters: 1..100 parameter models with unique names and valid conditions.

    Attributes:
        all_parameters: every parameter, in declared order.
        parameters: the modelled parameters, one per column.
        names: the column names; ``dim`` their number.
        continuous_dims, integer_dims, categorical_dims: columns by kind (``integer_dims``
            are the grid columns: ints and stepped floats).
        conditional_dims: columns of parameters with a ``when``.
    """

    def __init__(self, parameters: Sequence[ParamBase]) -> None:
        try:
            self.all_parameters: list[ParamBase] = validate_parameter_list(list(parameters))
        except ValueError as exc:
            raise SpaceError(None, str(exc)) from exc
        self.parameters: list[Any] = [p for p in self.all_parameters if p.column != "fixed"]
        self.names: list[str] = [p.name for p in self.parameters]
        self.dim: int = len(self.parameters)
        self.categorical_dims = [i for i, p in enumerate(self.parameters) if p.column == "categorical"]
        self.integer_dims = [i for i, p in enumerate(self.parameters) if p.column == "grid"]
        self.continuous_dims = [i for i, p in enumerate(self.parameters) if p.column == "continuous"]
        self.n_choices: dict[int, int] = {i: int(self.parameters[i].n_choices) for i in self.categorical_dims}
        self.conditional_dims = [i for i, p in enumerate(self.parameters) if p.when is not None]
        self._column = {name: i for i, name in enumerate(self.names)}
        self._by_name = {p.name: p for p in self.all_parameters}
        self._order = [self.all_parameters[i] for i in topological_order(self.all_parameters)]
        # per conditional column: (parent column, encodings of the activating parent values)
        self._conditions: list[tuple[int, int, list[float]]] = [
            (i, self._column[p.when.parent], [self._by_name[p.when.parent].encode_value(v) for v in p.when.values])
            for i, p in enumerate(self.parameters) if p.when is not None
        ]
        order = {p.name: k for k, p in enumerate(self._order)}
        self._conditions.sort(key=lambda c: order[self.names[c[0]]])

    def __repr__(self) -> str:
        return f"SearchSpace({[p.name for p in self.all_parameters]!r})"

    @property
    def numeric_dim(self) -> int:
        """The number of non-categorical columns (continuous and grid)."""
        return self.dim - len(self.categorical_dims)

    @property
    def is_conditional(self) -> bool:
        """Whether some parameter has a condition."""
        return any(p.when is not None for p in self.all_parameters)

    def draws_never_repeat(self, fixed: Mapping[int, float] | None = None) -> bool:
        """Whether two distinct points of a scrambled Sobol sequence always decode to different trials.

        True when some continuous column is always active and not held by ``fixed``: distinct
        Sobol points differ in every coordinate, and such a column keeps the difference. Grids,
        categoricals and conditional columns can map distinct points to one trial.
        """
        held = fixed or {}
        return any(self.parameters[i].when is None and i not in held for i in self.continuous_dims)

    def bounds(self, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> Tensor:
        """Box of the encoding, shape ``(2, D)``: ``[0, 1]`` or ``[0, k-1]`` for categoricals."""
        b = torch.zeros(2, self.dim, dtype=dtype, device=device)
        for i, p in enumerate(self.parameters):
            b[1, i] = p.upper_bound()
        return b

    # ------------------------------------------------------------------ activity
    def active_mask(self, X: Tensor) -> Tensor:
        """Which columns of ``X`` ``(..., D)`` are active (bool, same shape), from the snapped parent columns."""
        active = torch.ones(X.shape, dtype=torch.bool, device=X.device)
        for child, parent, codes in self._conditions:
            column = self.parameters[parent].snap(X[..., parent].detach())
            match = torch.zeros(column.shape, dtype=torch.bool, device=X.device)
            for code in codes:
                match |= (column - code).abs() <= MATCH_TOLERANCE
            active[..., child] = active[..., parent] & match
        return active

    def impute(self, X: Tensor) -> Tensor:
        """``X`` with inactive columns set to ``INACTIVE_VALUE`` (differentiable in the active ones)."""
        if not self._conditions:
            return X
        return torch.where(self.active_mask(X), X, torch.full_like(X, INACTIVE_VALUE))

    def active_names(self, params: Mapping[str, Any]) -> set[str]:
        """Names of the parameters active under the (partial) assignment ``params``."""
        active: set[str] = set()
        for p in self._order:
            if p.when is None or (
                p.when.parent in active and p.when.parent in params
                and any(same_value(params[p.when.parent], v) for v in p.when.values)
            ):
                active.add(p.name)
        return active

    def _inactive_reason(self, p: ParamBase, params: Mapping[str, Any], active: set[str]) -> str:
        parent = p.when.parent  # type: ignore[union-attr]
        if parent not in active:
            return f"inactive: its parent '{parent}' is inactive"
        return f"inactive: it is used only when '{parent}' is one of {p.when.values!r}, got {params.get(parent)!r}"  # type: ignore[union-attr]

    # ------------------------------------------------------------------ encode
    def encode(self, params: Mapping[str, Any]) -> Tensor:
        """Encode one parameter dict.

        Args:
            params: ``{name: value}`` with exactly the active parameters (fixed ones may be omitted).

        Returns:
            Tensor of shape ``(D,)``, float64 (inactive columns imputed).

        Raises:
            SpaceError: unknown, inactive or missing names, wrong types (bool is not a number),
                NaN/inf, values out of bounds or off the grid, unknown choices, a fixed value changed.
        """
        if not isinstance(params, Mapping):
            raise SpaceError(None, f"params must be an object mapping names to values, got {type(params).__name__}")
        for name in params:
            if name not in self._by_name:
                raise SpaceError(str(name), "unknown parameter")
        values = [INACTIVE_VALUE] * self.dim
        active: set[str] = set()
        for p in self._order:
            is_active = p.when is None or (
                p.when.parent in active and any(same_value(params[p.when.parent], v) for v in p.when.values)
            )
            if not is_active:
                if p.name in params:
                    raise SpaceError(p.name, self._inactive_reason(p, params, active))
                continue
            active.add(p.name)
            if p.name not in params:
                if p.column == "fixed":
                    continue
                raise SpaceError(p.name, "missing value")
            try:
                code = p.encode_value(params[p.name])
            except ValueError as exc:
                raise SpaceError(p.name, str(exc)) from exc
            if p.column != "fixed":
                values[self._column[p.name]] = code
        return torch.tensor(values, dtype=torch.float64)

    def encode_many(self, rows: Sequence[Mapping[str, Any]]) -> Tensor:
        """Encode several parameter dicts: ``n`` dicts -> tensor ``(n, D)`` float64."""
        if len(rows) == 0:
            return torch.zeros(0, self.dim, dtype=torch.float64)
        return torch.stack([self.encode(r) for r in rows])

    def canonical_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """A valid dict (``encode`` passes) in declared order, integers as ``int``, fixed values filled in."""
        active = self.active_names(params)
        out: dict[str, Any] = {}
        for p in self.all_parameters:
            if p.name not in active:
                continue
            out[p.name] = p.canonical_value(params[p.name]) if p.name in params else p.decode_value(0.0)
        return out

    # ------------------------------------------------------------------ decode
    def decode(self, x: Tensor) -> dict[str, Any]:
        """Decode one encoded point ``x`` of shape ``(D,)`` to ``{name: value}`` of the active parameters.

        Out-of-box coordinates are clamped, grid and categorical columns rounded; values are
        plain Python ``float``/``int``/``str``/``bool`` (JSON-ready), in declared order.
        """
        if x.shape != (self.dim,):
            raise SpaceError(None, f"expected a tensor of shape ({self.dim},), got {tuple(x.shape)}")
        x = x.detach().to(device="cpu", dtype=torch.float64)
        coords = x.tolist()
        for i, u in enumerate(coords):
            if u != u:
                raise SpaceError(self.names[i], "cannot decode NaN")
        decoded = {p.name: p.decode_value(u) for p, u in zip(self.parameters, coords)}
        active = self.active_names(decoded)
        return {
            p.name: (p.decode_value(0.0) if p.column == "fixed" else decoded[p.name])
            for p in self.all_parameters if p.name in active
        }

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
            ``(..., D)`` tensor, same dtype/device: every column snapped by its kind (floats
            clamped, grids to the nearest value's encoding, categoricals to an index) and the
            inactive columns imputed.
        """
        return self.impute(self.snap(X))

    def snap(self, X: Tensor) -> Tensor:
        """Every column snapped by its kind, inactive columns left as they are."""
        out = X.clone()
        for i, p in enumerate(self.parameters):
            out[..., i] = p.snap(X[..., i])
        return out

    def integer_encodings(self, i: int, dtype: torch.dtype = torch.float64,
                          device: torch.device | None = None) -> Tensor:
        """Encodings of all values of grid column ``i``, shape ``(n_values,)``, ascending."""
        p = self.parameters[i]
        if p.column != "grid":
            raise SpaceError(p.name, "not an integer parameter (nor a stepped float)")
        return p.grid_encodings(dtype, device)

    def unit_to_encoded(self, U: Tensor) -> Tensor:
        """Map points of the unit cube ``(..., D)`` into the encoding, uniformly per column.

        Float columns are kept, grid columns snapped (equal share per value on a linear
        scale), categorical column ``u`` becomes index ``floor(u * k)``. Used for
        (quasi-)random designs.
        """
        out = U.clone()
        for i, p in enumerate(self.parameters):
            out[..., i] = p.from_unit(U[..., i])
        return self.canonicalize(out)

    # ------------------------------------------------------------------ fixed for one call
    def encode_fixed(self, fixed: Mapping[str, Any]) -> dict[int, float]:
        """Encode a partial assignment held fixed for one suggest: ``{column: encoding}``.

        Raises:
            SpaceError: unknown name, invalid value, a fixed-type parameter given another
                value, or a conditional parameter whose parent is not held at a value
                activating it.
        """
        if not isinstance(fixed, Mapping):
            raise SpaceError(None, f"fixed must be an object mapping names to values, got {type(fixed).__name__}")
        for name in fixed:
            if name not in self._by_name:
                raise SpaceError(str(name), "unknown parameter")
        active = self.active_names(fixed)
        columns: dict[int, float] = {}
        for name, value in fixed.items():
            p = self._by_name[name]
            if name not in active:
                parent = p.when.parent  # type: ignore[union-attr]
                raise SpaceError(name, f"conditional on '{parent}': hold '{parent}' at one of "
                                       f"{p.when.values!r} too")  # type: ignore[union-attr]
            try:
                code = p.encode_value(value)
            except ValueError as exc:
                raise SpaceError(name, str(exc)) from exc
            if p.column != "fixed":
                columns[self._column[name]] = code
        return columns

    def apply_fixed(self, X: Tensor, columns: Mapping[int, float]) -> Tensor:
        """``X`` ``(..., D)`` with the given columns set, then canonicalized (children re-imputed)."""
        if not columns:
            return X
        out = X.clone()
        for i, code in columns.items():
            out[..., i] = code
        return self.canonicalize(out)
