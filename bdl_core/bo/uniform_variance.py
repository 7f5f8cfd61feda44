"""The ``"uniform"`` variance shape: the tangent kernel rescaled to one prior variance at every input.

The LLA of a network is a GP whose kernel is the empirical tangent kernel ``K(a, b) = J(a) V J(b)^T``
(``tangent_kernel``). Its diagonal, the prior variance of the function at ``a``, follows the size
of the network's Jacobian there, and that is largest at the edges and corners of the input box: on
Styblinski-Tang in 5-d the diagonal was 12-19 at the data and 21 at the corners
(``variance_calibration``). A GP with a stationary kernel has the same prior variance everywhere, so
its uncertainty grows only with the distance from the data; the LLA's also grows with the
Jacobian.

The ``"uniform"`` shape keeps the kernel's correlations (the network's notion of which inputs
behave alike) and sets the prior variance to one level everywhere:

    K_u(a, b) = c K(a, b) / sqrt(K(a, a) K(b, b)),   c = mean_i K(x_i, x_i) over the training inputs,

so that at the data the kernel keeps its average size (the noise and the prior precisions the
evidence tuned keep their meaning) and away from it the variance no longer follows the Jacobian's
size. The mean is the network's, as before; the leave-one-out calibration then scales this
covariance like the tangent one. With several outputs, each output has its own ``c`` (the mean of
its diagonal entries at the data) and the cross-output correlations are kept.

Measured (``docs/benchmarks.md``, "The LLA's uniform variance shape"): better medians on the three
scikit-learn tasks of ``benchmarks.suite`` where the tangent shape trails random search, worse on
several smooth synthetic functions; an option (``variance_shape``), not the default. It did not keep
the acquisition off the box's bounds: in a trace of ``mlp_wine`` (seed 2) 19 of 32 model trials had a
parameter at a bound, against 18 with the tangent shape.

Written here: laplace-torch and BoTorch have no such rescaling of a Laplace posterior. It is the
kernel's correlation matrix times a constant; a kernel multiplied by ``a(x) a(x')`` for a positive
``a`` is again a kernel (Rasmussen and Williams 2006, ch. 4), here ``a(x) = sqrt(c / K(x, x))``.
"""

from __future__ import annotations

from torch import Tensor

MIN_DIAGONAL = 1e-12  # floor of a prior variance before its square root (a dead unit's zero Jacobian)


def uniform_kernel(kernel: Tensor, row_variance: Tensor, column_variance: Tensor, level: Tensor) -> Tensor:
    """``level * kernel / sqrt(row_variance column_variance^T)`` (module docstring).

    Args:
        kernel: (*batch, m1, m2) tangent-kernel block ``K(a_i, b_j)``.
        row_variance: (*batch, m1) ``K(a_i, a_i)``.
        column_variance: (*batch, m2) or (m2,) ``K(b_j, b_j)``.
        level: () the prior variance ``c`` wanted everywhere, or (m1, m2) ``sqrt(c_i c_j)`` per entry
            (several outputs: ``level_matrix``).

    Returns:
        (*batch, m1, m2) the rescaled block; where ``a_i = b_j`` its entry is the level.
    """
    rows = row_variance.clamp_min(MIN_DIAGONAL).sqrt().unsqueeze(-1)
    columns = column_variance.clamp_min(MIN_DIAGONAL).sqrt().unsqueeze(-2)
    return level * kernel / (rows * columns)


def level_matrix(row_levels: Tensor, column_levels: Tensor) -> Tensor:
    """(m1, m2) ``sqrt(c_i c_j)`` from (m1,) and (m2,) per-entry levels: a block whose rows and columns
    belong to outputs of different levels keeps each output's variance on the diagonal."""
    return (row_levels.unsqueeze(-1) * column_levels.unsqueeze(-2)).sqrt()


def kernel_diagonal(kernel: Tensor) -> Tensor:
    """(*batch, m) the diagonal of a (*batch, m, m) kernel block."""
    return kernel.diagonal(dim1=-2, dim2=-1)


def output_levels(train_variance: Tensor, n_outputs: int) -> Tensor:
    """(m,) the level ``c`` of each output: the mean of its diagonal entries at the data.

    Args:
        train_variance: (n m,) ``K`` 's diagonal at the training inputs, points outer, outputs inner.
        n_outputs: m.
    """
    return train_variance.reshape(-1, n_outputs).mean(0)


def levels_for_points(levels: Tensor, q: int) -> Tensor:
    """(q m,) the (m,) output levels laid out for q points (points outer, outputs inner)."""
    return levels.repeat(q)
