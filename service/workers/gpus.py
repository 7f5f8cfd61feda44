"""Which GPUs a worker node has, found without initialising CUDA in this (forking) process.

``torch.cuda`` must not be initialised in the Celery parent process: a forked child cannot use a
CUDA context created before the fork. The GPUs are therefore read from the explicit list, from
``CUDA_VISIBLE_DEVICES``, or from ``nvidia-smi``, and each pool child pins itself to one.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def discover_gpus(explicit: str | None = None) -> list[str]:
    """GPU ids for the worker processes (one process each); empty on a CPU-only node.

    Args:
        explicit: comma-separated ids from ``--gpus``; ``""`` means none.
    """
    if explicit is not None:
        return [part.strip() for part in explicit.split(",") if part.strip()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [part.strip() for part in visible.split(",") if part.strip() and part.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def cuda_initialised() -> bool:
    """Whether this process already created a CUDA context (never true in a worker's parent)."""
    import sys

    torch = sys.modules.get("torch")
    return bool(torch is not None and torch.cuda.is_initialized())
