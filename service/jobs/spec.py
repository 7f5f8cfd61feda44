"""What a client submits to create a job (``POST /v1/jobs``); the API uses this model as its body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["regression", "classification"]
Device = Literal["auto", "cpu", "cuda"]

JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
FINISHED_STATES = ("succeeded", "failed", "cancelled")


class JobSpec(BaseModel):
    """A job request: the kind, the data, the declared model, the kind's config and the device."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    kind: str = Field(description="Registered job kind, e.g. 'laplace' or 'marglik'.", min_length=1, max_length=64)
    dataset: str = Field(description="Uploaded dataset id, or a built-in name such as 'sklearn:digits'.",
                         min_length=1, max_length=64)
    target: str | None = Field(default=None, max_length=256,
                               description="Target column (default: the dataset's last column).")
    task: Task
    model: dict[str, Any] | None = Field(
        default=None, description="Declared network, e.g. {\"kind\": \"mlp\", \"hidden\": [50, 50]}; default MLP."
    )
    config: dict[str, Any] = Field(default_factory=dict, description="Kind-specific settings; all defaulted.")
    device: Device = Field(default="auto", description="'cuda' jobs go to the 'gpu' queue, others to 'cpu'.")


def queue_for(device: str) -> str:
    """The logical queue of a job: ``"gpu"`` for CUDA jobs, ``"cpu"`` otherwise (auto runs anywhere)."""
    return "gpu" if device == "cuda" else "cpu"
