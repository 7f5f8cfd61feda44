"""Record of an online marginal-likelihood training run (:func:`bdl_core.marglik.train`).

A plain dataclass of Python floats so the job framework can serialise it (``to_dict``)
without touching tensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class MarglikHistory:
    """Per-epoch losses and per-marglik-step hyperparameter values.

    Attributes:
        loss: One value per epoch run: the mean over the epoch's mini-batches of the
            MAP objective ``-log p(D_b | theta) / |D_b| + theta^T P0 theta / (2 N)``
            (hyperparameters of that moment, Gaussian constants included).
        marglik_epochs: Epoch (1-based) of every marginal-likelihood step.
        log_marginal_likelihood: Log marginal likelihood after the hyperparameter
            steps of each marglik step (the Laplace evidence, or the stochastic
            bound estimate when training with ``marglik_batch_size``).
        prior_precision_mean: Mean of the (P,) per-parameter prior precisions.
        prior_precision_min: Minimum of the per-parameter prior precisions.
        prior_precision_max: Maximum of the per-parameter prior precisions.
        sigma_noise: Gaussian noise std (1.0 for classification).
        best_epoch: Epoch with the highest log marginal likelihood (None if no
            marglik step ran).
        best_log_marginal_likelihood: That highest value (None if no marglik step ran).
        stopped_early: Whether early stopping ended the run before ``epochs``.
        restored_best: Whether the returned model/hyperparameters are those of ``best_epoch``.
    """

    loss: list[float] = field(default_factory=list)
    marglik_epochs: list[int] = field(default_factory=list)
    log_marginal_likelihood: list[float] = field(default_factory=list)
    prior_precision_mean: list[float] = field(default_factory=list)
    prior_precision_min: list[float] = field(default_factory=list)
    prior_precision_max: list[float] = field(default_factory=list)
    sigma_noise: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_log_marginal_likelihood: float | None = None
    stopped_early: bool = False
    restored_best: bool = False

    @property
    def epochs_run(self) -> int:
        """Number of epochs that were trained."""
        return len(self.loss)

    def to_dict(self) -> dict:
        """All fields as a JSON-serialisable dict (plus ``epochs_run``)."""
        out = asdict(self)
        out["epochs_run"] = self.epochs_run
        return out
