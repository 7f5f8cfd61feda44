"""Per-parameter pruning scores: higher means more important, the lowest are pruned.

Every score is a (P,) vector in the order of a
:class:`~bdl_core.curvature.ParameterLayout`, the order in which the Laplace posterior
precision indexes parameters.

* ``"opd"``: Optimal Posterior Damage (SpaM, Dhahri et al. 2024),
  ``s_q = theta_q^2 [diag P]_q`` with P the Laplace posterior precision (the diagonal
  GGN posterior, or the diagonal of the K-FAC precision). It is the second-order
  increase of the negative log joint when theta_q alone is set to zero, with the
  posterior precision in place of Optimal Brain Damage's Hessian; it is free once the
  Laplace approximation is fitted, e.g. during marginal-likelihood training.
* ``"magnitude"``: ``|theta_q|``.
* ``"random"``: uniform noise (a floor any criterion should beat).
* ``"snip"``: ``|theta_q dL/dtheta_q|`` with L the summed negative log likelihood on
  the training data (Lee et al. 2019, here applied to the trained network).
* ``"grasp"``: GraSP-style ``|theta_q| |(H g)_q|`` with g = dL/dtheta and H the Hessian
  of L (Wang et al. 2020 score the signed ``-theta (H g)``; the absolute value is the
  variant SpaM's baselines use). H g is one double-backward pass per batch.

Written here rather than taken from a pruning library because every score must share
the layout's flat order with the bdl_core posterior precisions.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from bdl_core.curvature import ParameterLayout
from bdl_core.laplace import PosteriorPrecision
from bdl_core.likelihood import Likelihood

CRITERIA = ("opd", "magnitude", "random", "snip", "grasp")


def opd_scores(theta: Tensor, posterior_precision: PosteriorPrecision | Tensor) -> Tensor:
    """Optimal Posterior Damage ``theta^2 * diag(P)``.

    Args:
        theta: (P,) parameters (the MAP at which the Laplace approximation was fitted).
        posterior_precision: The posterior precision P, or its (P,) diagonal. For
            ``"kron"`` posteriors this is the diagonal of the K-FAC precision.

    Returns:
        (P,) non-negative scores.
    """
    diagonal = posterior_precision if isinstance(posterior_precision, Tensor) else posterior_precision.diagonal()
    if diagonal.shape != theta.shape:
        raise ValueError(f"theta {tuple(theta.shape)} and the precision diagonal {tuple(diagonal.shape)} differ.")
    return theta.detach().pow(2) * diagonal.detach()


def magnitude_scores(layout: ParameterLayout) -> Tensor:
    """``|theta|`` of the layout's current parameters.

    Returns:
        (P,) scores.
    """
    return layout.vector().abs()


def random_scores(layout: ParameterLayout, generator: torch.Generator | None = None) -> Tensor:
    """Uniform(0, 1) scores (drawn on the CPU so a seeded generator is device independent).

    Returns:
        (P,) scores.
    """
    noise = torch.rand(layout.n_params, generator=generator, dtype=torch.float64)
    return noise.to(dtype=layout.dtype, device=layout.device)


def _loss_gradient(model: nn.Module, layout: ParameterLayout, batches: Iterable[tuple[Tensor, Tensor]],
                   likelihood: str, create_graph: bool = False) -> list[tuple[Tensor, Tensor]]:
    """Per batch: (summed NLL, its gradient (P,)). Keeps graphs when ``create_graph``."""
    params = layout.parameters()
    out = []
    for X, y in batches:
        loss = Likelihood.of(likelihood).negative_log_likelihood(model(X).reshape(X.shape[0], -1), y, normalised=False)
        grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
        flat = torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])
        out.append((loss, flat))
    return out


def _batches(X: Tensor, y: Tensor, batch_size: int) -> list[tuple[Tensor, Tensor]]:
    return [(X[i : i + batch_size], y[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)]


def snip_scores(model: nn.Module, layout: ParameterLayout, X: Tensor, y: Tensor, likelihood: str,
                batch_size: int = 512) -> Tensor:
    """SNIP connection sensitivity ``|theta * dL/dtheta|`` on the training data.

    Args:
        model: Network mapping (N, *in_shape) to (N, C).
        layout: The parameters scored.
        X: (N, *in_shape) training inputs.
        y: (N, C) regression targets or (N,) class indices.
        likelihood: ``"regression"`` (unit noise) or ``"classification"``.
        batch_size: Examples per backward pass (the gradient is summed over all N).

    Returns:
        (P,) scores.
    """
    g = sum(grad.detach() for _, grad in _loss_gradient(model, layout, _batches(X, y, batch_size), likelihood))
    return (layout.vector() * g).abs()


def grasp_scores(model: nn.Module, layout: ParameterLayout, X: Tensor, y: Tensor, likelihood: str,
                 batch_size: int = 512) -> Tensor:
    """GraSP-style ``|theta| * |H g|`` with g the full-data NLL gradient and H its Hessian.

    Args:
        model, layout, X, y, likelihood, batch_size: As for :func:`snip_scores`.

    Returns:
        (P,) scores.
    """
    batches = _batches(X, y, batch_size)
    g = sum(grad.detach() for _, grad in _loss_gradient(model, layout, batches, likelihood))
    params = layout.parameters()
    hg = torch.zeros_like(g)
    for X_b, y_b in batches:
        (_, grad_b), = _loss_gradient(model, layout, [(X_b, y_b)], likelihood, create_graph=True)
        parts = torch.autograd.grad((grad_b * g).sum(), params, allow_unused=True)
        hg += torch.cat([(torch.zeros_like(p) if h is None else h).reshape(-1) for h, p in zip(parts, params)])
    return layout.vector().abs() * hg.abs()


def compute_scores(criterion: str, model: nn.Module, layout: ParameterLayout, *,
                   posterior_precision: PosteriorPrecision | Tensor | None = None,
                   X: Tensor | None = None, y: Tensor | None = None, likelihood: str = "classification",
                   generator: torch.Generator | None = None, batch_size: int = 512) -> Tensor:
    """The (P,) scores of one criterion of :data:`CRITERIA`.

    Args:
        criterion: ``"opd"``, ``"magnitude"``, ``"random"``, ``"snip"`` or ``"grasp"``.
        model: The network.
        layout: Its parameters (order of the result).
        posterior_precision: Needed by ``"opd"`` (P, or its (P,) diagonal, at the
            layout's current parameters).
        X, y, likelihood, batch_size: Training data, needed by ``"snip"`` and ``"grasp"``.
        generator: For ``"random"``.

    Returns:
        (P,) scores.
    """
    if criterion == "opd":
        if posterior_precision is None:
            raise ValueError("The 'opd' criterion needs a posterior precision.")
        return opd_scores(layout.vector(), posterior_precision)
    if criterion == "magnitude":
        return magnitude_scores(layout)
    if criterion == "random":
        return random_scores(layout, generator)
    if criterion in ("snip", "grasp"):
        if X is None or y is None:
            raise ValueError(f"The {criterion!r} criterion needs training data.")
        fn = snip_scores if criterion == "snip" else grasp_scores
        return fn(model, layout, X, y, likelihood, batch_size)
    raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}.")
