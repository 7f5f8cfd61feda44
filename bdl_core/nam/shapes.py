"""What a fitted additive model shows a user: shape functions with credible bands, importances.

A shape function is a term's output on a grid, centred by its mean over the training data (the
intercept absorbs that constant), with the posterior standard deviation sqrt(J_t Sigma J_t^T)
of the un-centred term as its band, as in LA-NAM. Importance reports, per term, the learned
prior precision (large: shrunk towards a constant by the evidence) and the variance of the
term's output over the training data (its share of the fitted signal).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .fitted import FittedAdditiveModel


@dataclass
class ShapeFunction:
    """One term evaluated on a grid.

    Attributes:
        term: Index of the term in the model.
        features: The feature indices it reads (one or two).
        label: Term name.
        grids: One (M_k,) tensor of grid values per feature, in model units (standardised values
            for numerical features, category codes for categorical ones).
        mean: Centred term values, (M_1,) or (M_1, M_2) for a pair.
        std: Posterior standard deviations of the same shape.
    """

    term: int
    features: tuple[int, ...]
    label: str
    grids: list[Tensor]
    mean: Tensor
    std: Tensor


@dataclass
class TermImportance:
    """Relevance of one term.

    Attributes:
        term, label: Which term.
        prior_precision: Geometric mean of its learned layer precisions (or its table's precision).
        layer_precisions: The learned precision of each of its layers (one for a table term).
        variance: Variance of the term's output over the training inputs.
        share: ``variance`` divided by the sum over all terms.
    """

    term: int
    label: str
    prior_precision: float
    layer_precisions: list[float]
    variance: float
    share: float


def feature_grid(X: Tensor, feature: int, n_categories: int, size: int) -> Tensor:
    """Grid of one feature: all codes of a categorical one, else ``size`` points over its range.

    Args:
        X: (N, D) training inputs.
        feature: Column index.
        n_categories: K for a categorical column, 0 for a numerical one.
        size: Number of grid points of a numerical column.

    Returns:
        (K,) or (size,) tensor.
    """
    if n_categories:
        return torch.arange(n_categories, dtype=X.dtype, device=X.device)
    column = X[:, feature]
    return torch.linspace(float(column.min()), float(column.max()), size, dtype=X.dtype, device=X.device)


def shape_functions(fitted: FittedAdditiveModel, X: Tensor, grid_size: int = 100,
                    pair_grid_size: int = 25) -> list[ShapeFunction]:
    """Every term of ``fitted`` on a grid, centred, with its posterior standard deviation.

    Args:
        fitted: Model with its posterior.
        X: (N, D) training inputs (grid ranges and centring).
        grid_size: Points per numerical feature of a first-order term.
        pair_grid_size: Points per numerical feature of a pair term.

    Returns:
        One :class:`ShapeFunction` per term, in term order.
    """
    model = fitted.model
    features = model.features
    train_mean = fitted.term_moments(X)[0].mean(0)  # (T,)
    grids = [feature_grid(X, d, f.n_categories, grid_size) for d, f in enumerate(features)]
    M = max(g.numel() for g in grids)
    X_grid = X.new_zeros(M, len(features))
    for d, g in enumerate(grids):
        X_grid[:, d] = g[torch.arange(M, device=X.device) % g.numel()]
    mean, var = fitted.term_moments(X_grid)
    out = []
    for t, term in enumerate(model.terms):
        label = term.label(features)
        if term.order == 1:
            d = term.features[0]
            k = grids[d].numel()
            out.append(ShapeFunction(t, term.features, label, [grids[d]], mean[:k, t] - train_mean[t],
                                     var[:k, t].clamp_min(0).sqrt()))
            continue
        i, j = term.features
        gi = feature_grid(X, i, features[i].n_categories, pair_grid_size)
        gj = feature_grid(X, j, features[j].n_categories, pair_grid_size)
        X_pair = X.new_zeros(gi.numel() * gj.numel(), len(features))
        X_pair[:, i] = gi.repeat_interleave(gj.numel())
        X_pair[:, j] = gj.repeat(gi.numel())
        pm, pv = fitted.term_moments(X_pair)
        shape = (gi.numel(), gj.numel())
        out.append(ShapeFunction(t, term.features, label, [gi, gj], (pm[:, t] - train_mean[t]).reshape(shape),
                                 pv[:, t].clamp_min(0).sqrt().reshape(shape)))
    return out


def term_importances(fitted: FittedAdditiveModel, X: Tensor) -> list[TermImportance]:
    """Learned prior precision and output variance of every term.

    Args:
        fitted: The model.
        X: (N, D) training inputs.

    Returns:
        One :class:`TermImportance` per term, in term order.
    """
    with torch.no_grad():
        values = fitted.model.term_outputs(X)
    variance = values.var(0, unbiased=False)
    total = float(variance.sum()) or 1.0
    precisions = fitted.prior.per_term()
    summary = fitted.prior.term_precision()
    return [
        TermImportance(term=t, label=term.label(fitted.model.features), prior_precision=float(summary[t]),
                       layer_precisions=[float(v) for v in precisions[t]], variance=float(variance[t]),
                       share=float(variance[t]) / total)
        for t, term in enumerate(fitted.model.terms)
    ]
