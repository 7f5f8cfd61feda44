"""Per-structure curvature accumulated over mini-batches at fit time.

Each accumulator collects the unit-noise curvature (sums over data) that its
Laplace structure needs, once, and afterwards turns any prior diagonal and
curvature scale (1 / sigma^2 or 1) into a :class:`PosteriorPrecision` without
touching data again:

* ``"full"``: the dense (P, P) GGN.
* ``"diag"``: the (P,) GGN diagonal.
* ``"kron"``: K-FAC factors, eigendecomposed once when first used.
* ``"function"``: the (N, C, P) whitened Jacobians L_n^T J_n (function-space form).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from bdl_core.curvature import (
    KronCurvature,
    ParameterLayout,
    diag_ggn,
    full_ggn,
)
from bdl_core.curvature.ggn_rows import ggn_row_chunks
from bdl_core.curvature.linear_jacobian_factors import LinearLayerFactors

from .diag_precision import DiagPrecision
from .full_precision import FullPrecision
from .function_precision import FunctionPrecision
from .kron_precision import KronFactorisation, KronPrecision
from .precision import PosteriorPrecision

STRUCTURES = ("full", "diag", "kron", "function")


class CurvatureAccumulator(ABC):
    """Collects curvature over batches and builds posterior precisions from it.

    Args:
        model: The network at the MAP.
        layout: Selected parameters.
        likelihood: ``"regression"`` or ``"classification"``.
        chunk_size: Examples per Jacobian evaluation (bounds memory; None = whole batch).
    """

    def __init__(self, model: nn.Module, layout: ParameterLayout, likelihood: str,
                 chunk_size: int | None = None) -> None:
        self.model, self.layout, self.likelihood = model, layout, likelihood
        self.chunk_size = chunk_size

    @abstractmethod
    def add_batch(self, X: Tensor, y: Tensor) -> None:
        """Add the curvature of one batch: X (N, *in_shape), y (N, C) or (N,)."""

    @abstractmethod
    def precision(self, prior_diagonal: Tensor, curvature_scale: Tensor | float,
                  prior_structure: str) -> PosteriorPrecision:
        """Posterior precision P = s H + diag(prior_diagonal).

        Args:
            prior_diagonal: (P,) prior precisions.
            curvature_scale: () tensor or float s (1 / sigma^2 for regression, else 1).
            prior_structure: The prior's structure name (used by "kron").

        Returns:
            A :class:`PosteriorPrecision` of this structure.
        """


class FullAccumulator(CurvatureAccumulator):
    """Dense GGN (P, P); its eigenvalues are computed once, when a scalar prior first asks."""

    hessian: Tensor | None = None
    _eigenvalues: Tensor | None = None

    def add_batch(self, X: Tensor, y: Tensor) -> None:
        H = full_ggn(self.model, X, y, self.likelihood, self.layout, chunk_size=self.chunk_size)
        self.hessian = H if self.hessian is None else self.hessian + H
        self._eigenvalues = None

    @property
    def eigenvalues(self) -> Tensor:
        """(P,) eigenvalues of the GGN (clamped >= 0), one ``eigvalsh`` per fit."""
        if self._eigenvalues is None:
            self._eigenvalues = torch.linalg.eigvalsh(self.hessian).clamp_min(0.0)
        return self._eigenvalues

    def precision(self, prior_diagonal, curvature_scale, prior_structure) -> FullPrecision:
        eigenvalues = self.eigenvalues if prior_structure == "scalar" else None
        return FullPrecision(self.hessian, prior_diagonal, curvature_scale, hessian_eigenvalues=eigenvalues)


class DiagAccumulator(CurvatureAccumulator):
    """GGN diagonal (P,)."""

    hessian_diagonal: Tensor | None = None

    def add_batch(self, X: Tensor, y: Tensor) -> None:
        h = diag_ggn(self.model, X, y, self.likelihood, self.layout, chunk_size=self.chunk_size)
        self.hessian_diagonal = h if self.hessian_diagonal is None else self.hessian_diagonal + h

    def precision(self, prior_diagonal, curvature_scale, prior_structure) -> DiagPrecision:
        return DiagPrecision(self.hessian_diagonal, prior_diagonal, curvature_scale)


class KronAccumulator(CurvatureAccumulator):
    """K-FAC factors per layer, eigendecomposed once.

    Args:
        kfac: ``"expand"`` or ``"reduce"`` (see ``bdl_core.curvature.kron``).
        dense_limit: Passed to :class:`KronPrecision` (``"parameter"`` priors).
    """

    def __init__(self, model, layout, likelihood, chunk_size=None, kfac: str = "expand",
                 dense_limit: int = 2048) -> None:
        super().__init__(model, layout, likelihood, chunk_size)
        self.kron = KronCurvature(model, layout, likelihood, kfac=kfac, fisher="ggn")
        self.dense_limit = dense_limit
        self._factorisation: KronFactorisation | None = None

    def add_batch(self, X: Tensor, y: Tensor) -> None:
        self.kron.update(X, y)
        self._factorisation = None

    @property
    def factorisation(self) -> KronFactorisation:
        """Blocks with the eigenpairs of their factors (computed on first access)."""
        if self._factorisation is None:
            self._factorisation = KronFactorisation(self.kron.blocks())
        return self._factorisation

    def precision(self, prior_diagonal, curvature_scale, prior_structure) -> KronPrecision:
        return KronPrecision(self.factorisation, prior_diagonal, curvature_scale,
                             prior_structure, self.dense_limit)


class FunctionAccumulator(CurvatureAccumulator):
    """Whitened Jacobians B0_n = L_n^T J_n, (N, C, P) in total.

    For scalar priors the eigenvalues of the (N*C, N*C) Gram matrix B0 B0^T are computed
    once, so that the evidence costs O(N*C) per hyperparameter setting.
    """

    def __init__(self, model, layout, likelihood, chunk_size=None) -> None:
        super().__init__(model, layout, likelihood, chunk_size)
        self._parts: list[Tensor] = []
        self._gram_eigenvalues: Tensor | None = None
        # per batch, per layer (factor, u) while every batch has rank-one factors
        self._factor_parts: list[list[tuple[LinearLayerFactors, Tensor]]] | None = []

    def add_batch(self, X: Tensor, y: Tensor) -> None:
        for rows in ggn_row_chunks(self.model, X, self.layout, self.likelihood, self.chunk_size):
            self._parts.append(rows.to_dense())
            if self._factor_parts is not None:
                self._factor_parts = None if rows.factors is None else self._factor_parts + [rows.factors]
        self._gram_eigenvalues = None

    @property
    def training_factors(self) -> list[tuple[LinearLayerFactors, Tensor]] | None:
        """Per layer (factor with a~ (N, d~), u (N, C, d_out)) of all data, or None."""
        if not self._factor_parts:
            return None
        if len(self._factor_parts) > 1:
            merged = []
            for layer in zip(*self._factor_parts):
                first = layer[0][0]
                factor = LinearLayerFactors(first.module_name, first.offset, first.has_bias,
                                            torch.cat([f.g for f, _ in layer]), torch.cat([f.a for f, _ in layer]))
                merged.append((factor, torch.cat([u for _, u in layer])))
            self._factor_parts = [merged]
        return self._factor_parts[0]

    @property
    def whitened_jacobians(self) -> Tensor:
        """(N, C, P) unit-noise L_n^T J_n of all data."""
        if len(self._parts) > 1:
            self._parts = [torch.cat(self._parts)]
        return self._parts[0]

    @property
    def gram_eigenvalues(self) -> Tensor:
        """(N*C,) eigenvalues of B0 B0^T (clamped >= 0), one ``eigvalsh`` per fit."""
        if self._gram_eigenvalues is None:
            B0 = self.whitened_jacobians.reshape(-1, self.whitened_jacobians.shape[-1])
            self._gram_eigenvalues = torch.linalg.eigvalsh(B0 @ B0.mT).clamp_min(0.0)
        return self._gram_eigenvalues

    def precision(self, prior_diagonal, curvature_scale, prior_structure) -> FunctionPrecision:
        eigenvalues = self.gram_eigenvalues if prior_structure == "scalar" else None
        return FunctionPrecision(self.whitened_jacobians, prior_diagonal, curvature_scale, gram_eigenvalues=eigenvalues,
                                 training_factors=self.training_factors)


def make_accumulator(structure: str, model: nn.Module, layout: ParameterLayout, likelihood: str,
                     chunk_size: int | None, kfac: str, dense_limit: int) -> CurvatureAccumulator:
    """The accumulator for ``structure`` in ``("full", "diag", "kron", "function")``."""
    if structure == "full":
        return FullAccumulator(model, layout, likelihood, chunk_size)
    if structure == "diag":
        return DiagAccumulator(model, layout, likelihood, chunk_size)
    if structure == "kron":
        return KronAccumulator(model, layout, likelihood, chunk_size, kfac, dense_limit)
    if structure == "function":
        return FunctionAccumulator(model, layout, likelihood, chunk_size)
    raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}.")
