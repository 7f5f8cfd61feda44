"""Robust symmetric eigendecomposition shared by every K-FAC path (core and additive model).

K-FAC factors of collapsed layers (nearly identical hidden units) are close to rank one and make
float32 ``eigh`` fail to converge; float64 (on the CPU for devices without it) with a tiny
relative jitter as a last resort is robust. Written here because ``torch.linalg.eigh`` has no
such fallback and every caller needs the same one.
"""

from __future__ import annotations

import torch
from torch import Tensor


def stable_eigh(M: Tensor) -> tuple[Tensor, Tensor]:
    """Batched eigendecomposition of symmetric PSD matrices, computed in float64.

    Args:
        M: (..., k, k) symmetric matrices.

    Returns:
        Eigenvalues (..., k), clamped at 0, and eigenvectors (..., k, k), in M's dtype and device.
    """
    work = M.detach().to(device="cpu" if M.device.type == "mps" else M.device, dtype=torch.float64)
    work = 0.5 * (work + work.mT)
    try:
        values, vectors = torch.linalg.eigh(work)
    except RuntimeError:
        scale = work.diagonal(dim1=-2, dim2=-1).mean(-1).clamp_min(1e-30)
        eye = torch.eye(work.shape[-1], dtype=work.dtype, device=work.device)
        values, vectors = torch.linalg.eigh(work + 1e-10 * scale[..., None, None] * eye)
    return values.clamp_min(0.0).to(M), vectors.to(M)
