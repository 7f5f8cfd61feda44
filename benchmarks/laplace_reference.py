"""laplace-torch, measured in the same run as ``benchmarks.laplace_core`` (optional).

``python -m benchmarks.laplace_core --reference`` times laplace-torch on the same MAP
network, data and thread count as ``bdl_core.laplace``, so that the speed-up column is a
ratio of two measurements taken minutes apart on one machine instead of a ratio against
numbers from another day. laplace-torch is NOT a dependency of bdlopt (it pulls
torchvision, and its ASDL back end is only published on GitHub); install it by hand
where you want the comparison, e.g. ``pip install --no-deps laplace-torch
curvlinops-for-pytorch backpack-for-pytorch einops einconv opt_einsum torchmetrics
lightning-utilities unfoldNd``. Without it the benchmark falls back to the stored numbers
in ``laplace_core.REFERENCE``.

What is timed mirrors ``laplace_core.measure``: ``fit`` on all points (one full batch),
100 Adam steps of ``optimize_prior_precision(method="marglik")`` on a scalar prior, and
the GLM probit predictive of all points (``la(X, pred_type="glm", link_approx="probit")``)
in batches of ``PREDICT_BATCH``: in one call it asks for ~33 GB for the 1797 digits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

PREDICT_BATCH = 128


def available() -> bool:
    """Whether laplace-torch can be imported here."""
    try:
        import laplace  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return False
    return True


def _backend():
    from laplace import curvature

    for name in ("BackPackGGN", "CurvlinopsGGN"):  # BackPACK: kron and diag without full Jacobians
        if hasattr(curvature, name):
            return getattr(curvature, name)
    raise RuntimeError("laplace-torch has neither its BackPACK nor its curvlinops back end")


def measure_reference(structure: str, model: nn.Module, X: torch.Tensor, y: torch.Tensor,
                      timed: Callable, repeats: int) -> dict[str, float]:
    """Wall seconds of laplace-torch's fit / 100 tuning steps / probit predictive on all of X.

    Args:
        structure: ``"kron"`` or ``"diag"`` (all weights).
        model: The MAP network, (N, 64) -> (N, C) logits.
        X: (N, 64) inputs; y: (N,) class indices.
        timed: ``laplace_core.timed`` (median wall and CPU seconds, last result).
        repeats: Timed repetitions after one warm-up.

    Returns:
        ``{"fit": s, "tune": s, "predict": s, "lml": tuned log marginal likelihood}``.
    """
    from laplace import Laplace as ReferenceLaplace
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(X, y), batch_size=X.shape[0])
    device = X.device
    backend = _backend()

    def fit():
        la = ReferenceLaplace(model, "classification", subset_of_weights="all",
                              hessian_structure=structure, backend=backend)
        la.fit(loader)
        return la

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_wall, _, la = timed(fit, device, repeats)

        def tune():
            la.prior_precision = 1.0
            la.optimize_prior_precision(method="marglik", n_steps=100, lr=0.1)
            return la

        tune_wall, _, la = timed(tune, device, repeats)

        def predict():
            with torch.no_grad():
                return torch.cat([la(X[i : i + PREDICT_BATCH], pred_type="glm", link_approx="probit")
                                  for i in range(0, X.shape[0], PREDICT_BATCH)])

        predict_wall, _, _ = timed(predict, device, repeats)
        lml = float(la.log_marginal_likelihood())
    return {"fit": fit_wall, "tune": tune_wall, "predict": predict_wall, "lml": lml}
