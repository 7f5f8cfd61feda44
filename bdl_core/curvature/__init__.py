"""Curvature of neural-network likelihoods for Laplace approximations.

Parameter layouts, per-example Jacobians, output-space likelihood derivatives, and
GGN / empirical-Fisher curvature in full, diagonal and Kronecker-factored (K-FAC)
form, plus the function-space (NTK) prior kernel. All sums run over examples.
"""

from .diag import diag_efisher, diag_ggn
from .full import full_efisher, full_ggn
from .function import kernel_between, kernel_blocks, ntk_kernel
from .jacobians import jacobians, per_example_gradients
from .kron import KronCurvature, kron_ggn
from .kron_block import KronBlock
from .likelihoods import (
    nll_gradient_outputs,
    output_hessian,
    output_hessian_sqrt,
)
from .params import ParameterGroup, ParameterLayout

__all__ = [
    "KronBlock",
    "KronCurvature",
    "ParameterGroup",
    "ParameterLayout",
    "diag_efisher",
    "diag_ggn",
    "full_efisher",
    "full_ggn",
    "jacobians",
    "kernel_between",
    "kernel_blocks",
    "kron_ggn",
    "nll_gradient_outputs",
    "ntk_kernel",
    "output_hessian",
    "output_hessian_sqrt",
    "per_example_gradients",
]
