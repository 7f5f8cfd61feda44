"""Bayesian linear regression with a conjugate normal-inverse-gamma prior (closed form).

Prior: ``beta | s2 ~ N(m0, s2 * Lambda0^-1)``, ``s2 ~ InvGamma(a0, b0)``. Posterior (Bishop 2006,
sec. 3.3; Murphy 2012, sec. 7.6.3)::

    Lambda_n = Lambda0 + X^T X
    m_n      = Lambda_n^-1 (Lambda0 m0 + X^T y)
    a_n      = a0 + n / 2
    b_n      = b0 + (|y - X m_n|^2 + (m_n - m0)^T Lambda0 (m_n - m0)) / 2

and the predictive of a new ``y*`` at ``x`` is Student-t with ``2 a_n`` degrees of freedom,
location ``x^T m_n`` and squared scale ``(b_n / a_n) (1 + x^T Lambda_n^-1 x)``.

With ``Lambda0 = 0`` and ``a0 = -p/2, b0 = 0`` (the reference prior ``p(beta, s2) ~ 1/s2``) the
predictive is the classical prediction interval of least squares: ``n - p`` degrees of freedom,
scale ``s sqrt(1 + x^T (X^T X)^-1 x)``; its intervals have exact frequentist coverage when the
linear-Gaussian model holds, which is what makes the probabilities calibrated.

Written here because it is a few lines of tensor algebra; the libraries that carry it
(scikit-learn's BayesianRidge, PyMC) either give a Gaussian plug-in predictive without the
Student-t tails or add a dependency to a pure-PyTorch core. Works in float32 and float64 on any
device; the tail probability of the Student-t is left to the caller (torch has no Student-t CDF).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class StudentTPredictive:
    """Predictive distribution per query point: Student-t with ``df`` degrees of freedom.

    Attributes:
        loc: (m,) location per query point.
        scale: (m,) scale per query point.
        df: degrees of freedom (one for all points).
    """

    loc: Tensor
    scale: Tensor
    df: float


class ConjugateLinearRegression:
    """Fit once with :meth:`fit`, then :meth:`predict` the Student-t predictive.

    Args:
        prior_precision: ``Lambda0 = prior_precision * I`` (0: the flat reference prior).
        a0: inverse-gamma shape; ``None`` means ``-p/2`` (the reference prior; needs n > p).
        b0: inverse-gamma rate (>= 0).
    """

    def __init__(self, prior_precision: float = 0.0, a0: float | None = None, b0: float = 0.0) -> None:
        if prior_precision < 0 or b0 < 0:
            raise ValueError(f"prior_precision and b0 must be >= 0, got {prior_precision}, {b0}.")
        self.prior_precision = float(prior_precision)
        self.a0 = a0
        self.b0 = float(b0)
        self.mean: Tensor | None = None
        self.precision_factor: Tensor | None = None
        self.a_n = 0.0
        self.b_n: Tensor | None = None

    def fit(self, X: Tensor, y: Tensor) -> ConjugateLinearRegression:
        """Condition on ``X`` (n, p) and ``y`` (n,); prior mean zero."""
        if X.dim() != 2 or y.shape != X.shape[:1]:
            raise ValueError(f"X must be (n, p) and y (n,), got {tuple(X.shape)} and {tuple(y.shape)}.")
        n, p = X.shape
        a0 = -p / 2 if self.a0 is None else float(self.a0)
        a_n = a0 + n / 2
        if a_n <= 0:
            raise ValueError(f"the posterior shape a0 + n/2 = {a_n} must be > 0 (n={n}, p={p}): more data needed.")
        eye = torch.eye(p, dtype=X.dtype, device=X.device)
        precision = X.T @ X + self.prior_precision * eye
        factor = torch.linalg.cholesky(precision)
        mean = torch.cholesky_solve((X.T @ y).unsqueeze(-1), factor).squeeze(-1)
        residual = y - X @ mean
        b_n = self.b0 + 0.5 * (residual @ residual + self.prior_precision * (mean @ mean))
        self.mean, self.precision_factor, self.a_n, self.b_n = mean, factor, a_n, b_n
        return self

    def predict(self, X: Tensor) -> StudentTPredictive:
        """Predictive of new observations at ``X`` (m, p)."""
        if self.mean is None or self.precision_factor is None or self.b_n is None:
            raise RuntimeError("call fit() before predict().")
        loc = X @ self.mean
        solved = torch.cholesky_solve(X.T, self.precision_factor)  # (p, m) = Lambda_n^-1 X^T
        leverage = (X * solved.T).sum(-1)
        scale = torch.sqrt(self.b_n / self.a_n * (1.0 + leverage))
        return StudentTPredictive(loc=loc, scale=scale, df=2.0 * self.a_n)
