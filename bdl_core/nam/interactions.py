"""Ranking feature pairs as candidates for second-order terms, from a Laplace posterior over the
outputs of a first-stage additive model.

Both scores start from the last-layer model eta(x) = b + sum_d w_d fbar_d(x_d) on the centred
subnetwork outputs fbar_d (w = 1 reproduces the trained model), with its Laplace (here exact
GGN) posterior precision P = s Phi^T Lambda Phi + diag(prior), Phi = [1, fbar_1 .. fbar_D].

``"mutinf"`` (LA-NAM's score): the mutual information of (w_i, w_j) under the posterior,
-1/2 log(1 - rho_ij^2) with rho the posterior correlation. The GGN posterior does not depend
on the targets, so this measures how entangled two subnetworks' outputs are over the data
(e.g. correlated features); it cannot see a product interaction between independent features.

``"marglik"``: the Laplace marginal-likelihood gain of adding an interaction term u^T z_ij(x),
u ~ N(0, I / alpha), to that last layer, maximised over alpha. z_ij holds products of a basis
of feature i with one of feature j (numerical: the centred learned shape and the standardised
feature itself; categorical: centred one-hot indicators). With r the residuals at theta0 (the
trained model), the efficient score g = s Z^T r - H_u,theta P^-1 (s Phi^T r - prior theta0)
(the score at the last layer's MAP) and the Schur complement
C = s Z^T Lambda Z - H_u,theta P^-1 H_theta,u = V diag(c) V^T, the gain is

    1/2 sum_k (V^T g)_k^2 / (alpha + c_k)  -  1/2 sum_k log(1 + c_k / alpha),

the exact log evidence ratio of the two Bayesian linear models for a Gaussian likelihood and
its Laplace (one Newton step) approximation for Bernoulli. It is large only when the
first-stage residuals carry structure in z_ij. (LA-NAM's own ``marglik`` score, the
log-determinant slack -log(1 - P_ij^2 / (P_ii P_jj)) of the same precision, is target-free
like ``mutinf``; this score is used instead so that the two methods differ in kind.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .fitted import FittedAdditiveModel
from .likelihoods import curvature_scale, output_hessian, residual

RANKINGS = ("mutinf", "marglik")
MAX_ONEHOT_LEVELS = 20


@dataclass(frozen=True)
class PairScore:
    """Score of one feature pair (i < j) as an interaction candidate."""

    i: int
    j: int
    score: float


def _first_order_outputs(fitted: FittedAdditiveModel, X: Tensor) -> tuple[Tensor, list[int]]:
    """(N, D') centred outputs of the first-order terms and their feature indices."""
    with torch.no_grad():
        outputs = fitted.model.term_outputs(X)
    columns = [t for t, term in enumerate(fitted.model.terms) if term.order == 1]
    F = outputs[:, columns]
    return F - F.mean(0), [fitted.model.terms[t].features[0] for t in columns]


def _last_layer_precision(Phi: Tensor, lam: Tensor, s: Tensor, prior: float) -> Tensor:
    """(K, K) posterior precision s Phi^T diag(lam) Phi + prior I of a linear last layer."""
    P = s * Phi.T @ (lam.unsqueeze(1) * Phi)
    return P + prior * torch.eye(P.shape[0], dtype=P.dtype, device=P.device)


def _feature_basis(X: Tensor, F: Tensor, feature: int, column: int, fitted: FittedAdditiveModel) -> Tensor:
    """(N, k) centred, unit-variance basis of one feature for candidate interaction functions."""
    info = fitted.model.features[feature]
    if info.categorical and info.n_categories <= MAX_ONEHOT_LEVELS:
        codes = X[:, feature].round().long().clamp(0, info.n_categories - 1)
        parts = torch.nn.functional.one_hot(codes, info.n_categories)[:, 1:].to(X.dtype)
    elif info.categorical:
        parts = F[:, column : column + 1]
    else:
        parts = torch.stack([F[:, column], X[:, feature]], dim=1)
    parts = parts - parts.mean(0)
    scale = parts.std(0)
    keep = scale > 1e-6 * scale.max().clamp_min(1e-30)
    return parts[:, keep] / scale[keep]


def rank_interactions(
    fitted: FittedAdditiveModel,
    X: Tensor,
    y: Tensor,
    method: str = "marglik",
    weight_prior: float = 1.0,
    alphas: Tensor | None = None,
) -> tuple[list[PairScore], Tensor]:
    """Score every pair of features that has a first-order term.

    Args:
        fitted: The first-stage model with its learned noise.
        X: (N, D) training inputs; y: (N,) targets.
        method: ``"mutinf"`` or ``"marglik"`` (see module docstring).
        weight_prior: Prior precision of the last-layer coefficients w (and b).
        alphas: Prior precisions of u searched by ``"marglik"`` (default 10^-4 .. 10^4).

    Returns:
        Pairs sorted by decreasing score, and the (D, D) symmetric score matrix (zero diagonal,
        zero for features without a first-order term).
    """
    if method not in RANKINGS:
        raise ValueError(f"method must be one of {RANKINGS}, got {method!r}.")
    dtype = X.dtype
    F, feats = _first_order_outputs(fitted, X)
    with torch.no_grad():  # small (N, D) problems: float64 throughout for robust Cholesky/eigh
        work = torch.float64 if X.device.type != "mps" else torch.float32
        f = fitted.model(X).to(work)
        F, X = F.to(work), X.to(work)
        lam = output_hessian(f, fitted.likelihood)
        r = residual(f, y.reshape(-1).to(work), fitted.likelihood)
        s = curvature_scale(fitted.likelihood, fitted.log_sigma.detach().to(work).exp())
        Phi = torch.cat([torch.ones_like(F[:, :1]), F], dim=1)
        P = _last_layer_precision(Phi, lam, s, weight_prior)
        D = X.shape[1]
        matrix = X.new_zeros(D, D)
        if method == "mutinf":
            Sigma = torch.linalg.inv(P)[1:, 1:]
            sd = Sigma.diagonal().sqrt()
            rho = (Sigma / sd.unsqueeze(0) / sd.unsqueeze(1)).clamp(-1 + 1e-7, 1 - 1e-7)
            scores = -0.5 * torch.log1p(-rho.pow(2))
            for a in range(len(feats)):
                for b in range(len(feats)):
                    if a != b:
                        matrix[feats[a], feats[b]] = scores[a, b]
        else:
            alphas = alphas if alphas is not None else torch.logspace(-4, 4, 33, dtype=X.dtype, device=X.device)
            L = torch.linalg.cholesky(P)
            theta0 = torch.cat([f.mean().reshape(1), torch.ones_like(F[0])])  # Phi theta0 = f
            g_theta = s * Phi.T @ r - weight_prior * theta0
            bases = [_feature_basis(X, F, d, a, fitted) for a, d in enumerate(feats)]
            for a in range(len(feats)):
                for b in range(a + 1, len(feats)):
                    Z = (bases[a].unsqueeze(2) * bases[b].unsqueeze(1)).reshape(X.shape[0], -1)
                    gain = interaction_evidence_gain(Z, Phi, lam, r, s, L, g_theta, alphas).max().clamp_min(0.0)
                    matrix[feats[a], feats[b]] = matrix[feats[b], feats[a]] = gain
    pairs = [PairScore(i, j, float(matrix[i, j])) for i in range(D) for j in range(i + 1, D)
             if i in feats and j in feats]
    pairs.sort(key=lambda p: p.score, reverse=True)
    return pairs, matrix.to(dtype)


def interaction_evidence_gain(Z: Tensor, Phi: Tensor, lam: Tensor, r: Tensor, s: Tensor, L: Tensor,
                              g_theta: Tensor, alphas: Tensor) -> Tensor:
    """Laplace evidence gain of adding u^T z(x) to the last layer (see module docstring).

    Args:
        Z: (N, k) candidate regressors (centred here).
        Phi: (N, K) last-layer regressors [1, fbar].
        lam: (N,) output Hessians; r: (N,) residuals at theta0; s: () curvature scale.
        L: (K, K) Cholesky factor of the last layer's posterior precision P.
        g_theta: (K,) gradient of the log joint w.r.t. theta at theta0.
        alphas: (A,) prior precisions of u.

    Returns:
        (A,) gains, one per alpha.
    """
    if Z.shape[1] == 0:
        return alphas.new_zeros(alphas.shape)
    Z = Z - Z.mean(0)
    H_ut = s * Z.T @ (lam.unsqueeze(1) * Phi)  # (k, K)
    W = torch.cholesky_solve(H_ut.T, L)  # P^-1 H_theta,u  (K, k)
    C = s * Z.T @ (lam.unsqueeze(1) * Z) - H_ut @ W
    g = s * Z.T @ r - W.T @ g_theta
    c, V = torch.linalg.eigh(0.5 * (C + C.T))
    c = c.clamp_min(0.0)
    v2 = (V.T @ g).pow(2)
    a = alphas.unsqueeze(1)
    return 0.5 * (v2 / (a + c)).sum(1) - 0.5 * torch.log1p(c / a).sum(1)

