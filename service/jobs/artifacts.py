"""Files an attempt produces: weights as safetensors (no pickled code), JSON metadata and plots.

Each attempt writes under ``<artifacts_dir>/<job_id>/attempt-<n>/``; only the attempt whose
result is stored gets artifact records, so files of a stale attempt are never served (they are
removed when that attempt finds out it lost the job).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from service.jobs.attempts import ArtifactFile

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArtifactWriter:
    """Writes the artifacts of one attempt and remembers them for the job's result.

    Args:
        root: the artifacts directory shared by the API and the workers.
        job_id, attempt: whose files these are.
    """

    def __init__(self, root: Path, job_id: str, attempt: int) -> None:
        self.root = root
        self.relative = Path(job_id) / f"attempt-{attempt}"
        self.files: list[ArtifactFile] = []

    @property
    def directory(self) -> Path:
        """The attempt's directory."""
        return self.root / self.relative

    def _target(self, name: str) -> Path:
        if not _NAME.match(name) or name in {f.name for f in self.files}:
            raise ValueError(f"invalid or repeated artifact name {name!r}")
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / name

    def _record(self, name: str, media_type: str, path: Path) -> ArtifactFile:
        artifact = ArtifactFile(name=name, media_type=media_type, size_bytes=path.stat().st_size,
                                path=(self.relative / name).as_posix())
        self.files.append(artifact)
        return artifact

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
                     ) -> ArtifactFile:
        """Save named tensors (e.g. a ``state_dict``) as ``name`` in safetensors format (moved to CPU)."""
        path = self._target(name)
        plain = {key: value.detach().to("cpu").contiguous().clone() for key, value in tensors.items()}
        temporary = path.with_name(path.name + ".tmp")
        save_file(plain, str(temporary), metadata=metadata)
        os.replace(temporary, path)
        return self._record(name, "application/octet-stream", path)

    def save_json(self, name: str, payload: Any) -> ArtifactFile:
        """Save a JSON document as ``name``."""
        path = self._target(name)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True))
        os.replace(temporary, path)
        return self._record(name, "application/json", path)

    def save_bytes(self, name: str, content: bytes, media_type: str) -> ArtifactFile:
        """Save raw bytes (e.g. a PNG plot) as ``name`` with the given media type."""
        path = self._target(name)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(content)
        os.replace(temporary, path)
        return self._record(name, media_type, path)

    def discard(self) -> None:
        """Delete this attempt's files (its result was not stored)."""
        shutil.rmtree(self.directory, ignore_errors=True)
        self.files.clear()
