"""Predictions with uncertainty from a succeeded job's fitted Laplace posterior (``POST /v1/jobs/{id}/predict``).

A ``laplace`` or ``marglik`` job saves its network (``weights.safetensors`` + ``weights.json``, with the
posterior's structure and training-row count) and the tuned hyperparameters (``posterior.safetensors``:
prior precisions and noise). Prediction rebuilds the network, re-creates the job's training split from
its dataset and seed, refits the posterior's curvature there (milliseconds to seconds; cheaper to store
than a K-FAC or full precision) and returns the linearised predictive in the data's units. Nothing runs
inside a database transaction: the job and its artifact paths are read first, the fit runs after.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from service.datasets.catalog import load_table
from service.db import Database
from service.errors import ConflictError, InvalidInputError
from service.jobs import catalog
from service.jobs.data import make_splits
from service.jobs.model_specs import parse_model_spec
from service.jobs.networks import build_network

#: Kinds whose results carry a posterior that can predict.
PREDICTING_KINDS = ("laplace", "marglik")
POSTERIOR_ARTIFACT = "posterior.safetensors"


def save_posterior(context: Any, la: Any) -> str:
    """Write the tuned hyperparameters of ``la`` as ``posterior.safetensors``; returns the artifact name."""
    tensors = {"prior_precision": la.prior.hyperparameters().detach().reshape(-1).contiguous(),
               "sigma_noise": la.sigma_noise.detach().reshape(1).contiguous()}
    return context.artifacts.save_tensors(POSTERIOR_ARTIFACT, tensors, metadata={"job_id": context.job_id}).name


def _posterior_section(metadata: dict[str, Any]) -> dict[str, Any]:
    section = metadata.get("laplace") or metadata.get("marglik")
    if not section or "n_train" not in section:
        raise ConflictError("this job's artifacts predate predictions; rerun the job")
    return section


def predict(db: Database, artifacts_dir: Path, datasets_dir: Path, job_id: str, rows: list[list[float]], *,
            owner: str | None = None, observation_noise: bool = True, link: str = "probit") -> dict[str, Any]:
    """The Laplace predictive of the job's posterior at ``rows`` (raw feature values, in ``feature_names`` order).

    Returns:
        ``{"feature_names", "mean", "std"}`` (regression, target units) or ``{"feature_names", "classes",
        "probabilities"}`` (classification).

    Raises:
        NotFoundError: no such job (of ``owner``). ConflictError: not succeeded, or a kind without a posterior.
        InvalidInputError: rows of the wrong width (names ``rows``).
    """
    from bdl_core.laplace import Laplace

    job = catalog.get_job(db, job_id, owner=owner)
    if job.state != "succeeded":
        raise ConflictError(f"job '{job_id}' is {job.state}; only a succeeded job's posterior can predict")
    if job.kind not in PREDICTING_KINDS:
        raise ConflictError(f"job '{job_id}' is a {job.kind} job; predictions come from {', '.join(PREDICTING_KINDS)} jobs")
    _, info_path = catalog.artifact_file(db, artifacts_dir, job_id, "weights.json", owner=owner)
    _, weights_path = catalog.artifact_file(db, artifacts_dir, job_id, "weights.safetensors", owner=owner)
    _, posterior_path = catalog.artifact_file(db, artifacts_dir, job_id, POSTERIOR_ARTIFACT, owner=owner)
    metadata = json.loads(info_path.read_text())
    section = _posterior_section(metadata)
    width = len(metadata["feature_names"])
    if any(len(row) != width for row in rows):
        raise InvalidInputError(f"rows: every row needs {width} values, in the order {metadata['feature_names']}",
                                field="rows")
    dtype = getattr(torch, metadata["dtype"])
    network = build_network(parse_model_spec(metadata["model"]), metadata["n_features"], metadata["n_outputs"],
                            dtype=dtype)
    network.load_state_dict(load_file(weights_path))
    network.eval()
    hyper = load_file(posterior_path)
    splits = make_splits(load_table(db, datasets_dir, job.dataset), job.target, job.task,
                         test_fraction=job.config["test_fraction"], seed=job.config["seed"], dtype=dtype, device="cpu")
    n_train = int(section["n_train"])
    values = hyper["prior_precision"]
    la = Laplace(network, job.task, structure=section["structure"], subset=section.get("subset", "all"),
                 kfac=section.get("kfac", "expand"), prior=section["prior"],
                 prior_precision=values[0] if section["prior"] == "scalar" else values,
                 sigma_noise=hyper["sigma_noise"][0] if job.task == "regression" else 1.0)
    la.fit(splits.x_train[:n_train], splits.y_train[:n_train])
    x = torch.tensor(rows, dtype=dtype)
    x = (x - torch.tensor(metadata["x_mean"], dtype=dtype)) / torch.tensor(metadata["x_std"], dtype=dtype)
    with torch.no_grad():
        if job.task == "classification":
            probs = la.predict(x, link=link)
            return {"feature_names": metadata["feature_names"], "classes": metadata["classes"],
                    "probabilities": probs.tolist()}
        mean, variance = la.predict(x, observation_noise=observation_noise)
    scale, shift = metadata["y_std"], metadata["y_mean"]
    return {"feature_names": metadata["feature_names"], "mean": (mean[:, 0] * scale + shift).tolist(),
            "std": (variance[:, 0].sqrt() * scale).tolist()}
