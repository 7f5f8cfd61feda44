"""Function-space (NTK / GP) kernels of the linearised Laplace approximation.

With a diagonal Gaussian prior theta ~ N(theta*, P0^-1), the linearised network
f(x) ~= f*(x) + J(x)(theta - theta*) is a GP with kernel K(x, x') = J(x) P0^-1 J(x')^T.
Outputs are stacked example-major: row index ``n * C + c``.
"""

from __future__ import annotations

from torch import Tensor


def kernel_between(J1: Tensor, J2: Tensor, prior_precision_diag: Tensor) -> Tensor:
    """Cross kernel ``J1 P0^-1 J2^T``.

    Args:
        J1: (N1, C, P) Jacobians.
        J2: (N2, C, P) Jacobians.
        prior_precision_diag: (P,) positive prior precisions (differentiable).

    Returns:
        (N1 * C, N2 * C) kernel with row ``n1 * C + c1`` and column ``n2 * C + c2``.
    """
    n1, c1, p = J1.shape
    n2, c2, _ = J2.shape
    scaled = J1.reshape(n1 * c1, p) / prior_precision_diag
    return scaled @ J2.reshape(n2 * c2, p).T


def ntk_kernel(J: Tensor, prior_precision_diag: Tensor) -> Tensor:
    """Prior kernel ``J P0^-1 J^T`` of the linearised network on one set of inputs.

    Args:
        J: (N, C, P) Jacobians.
        prior_precision_diag: (P,) positive prior precisions (differentiable).

    Returns:
        (N * C, N * C) symmetric PSD kernel, row index ``n * C + c``.
    """
    return kernel_between(J, J, prior_precision_diag)


def kernel_blocks(J: Tensor, prior_precision_diag: Tensor) -> Tensor:
    """Per-example (C, C) diagonal blocks of :func:`ntk_kernel`, without the off-diagonal ones.

    Args:
        J: (N, C, P) Jacobians.
        prior_precision_diag: (P,) positive prior precisions.

    Returns:
        (N, C, C) with ``out[n] = J_n P0^-1 J_n^T``.
    """
    return (J / prior_precision_diag) @ J.transpose(-1, -2)
