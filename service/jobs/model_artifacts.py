"""Saving a trained network as job artifacts: ``<prefix>.safetensors`` weights and ``<prefix>.json``
metadata (architecture, input standardisation, classes, hyperparameters), enough to rebuild the
network with :func:`service.jobs.networks.build_network` and use it on raw inputs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from torch import nn

from service.jobs.context import JobContext


def save_network(context: JobContext, network: nn.Module, spec: BaseModel, *, prefix: str = "weights",
                 extra: dict[str, Any] | None = None) -> list[str]:
    """Write the weights and the metadata (``spec``: the architecture, e.g. a ModelSpec); returns the names."""
    data = context.data
    weights = context.artifacts.save_tensors(f"{prefix}.safetensors", dict(network.state_dict()),
                                             metadata={"job_id": context.job_id, "format": "pt"})
    metadata = {
        "job_id": context.job_id,
        "task": context.task,
        "model": spec.model_dump(mode="json"),
        "n_features": data.n_features,
        "n_outputs": data.n_outputs,
        "feature_names": data.feature_names,
        "x_mean": data.x_mean,
        "x_std": data.x_std,
        "y_mean": data.y_mean,
        "y_std": data.y_std,
        "classes": data.classes,
        "dtype": str(context.dtype).removeprefix("torch."),
        **(extra or {}),
    }
    info = context.artifacts.save_json(f"{prefix}.json", metadata)
    return [weights.name, info.name]
