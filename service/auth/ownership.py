"""What the implicit ``local`` principal owns, and handing it to a named principal.

Local mode (a loopback server with no API key) files everything under ``local``. The first key
ends local mode, so ``bdlopt keys create --adopt-local`` hands that data to the new key's principal
in one transaction instead of leaving it visible only to admin keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from service.auth.principal import LOCAL_PRINCIPAL
from service.db import Database, DatasetRecord, JobRecord, StudyRecord

_OWNED = (("studies", StudyRecord), ("datasets", DatasetRecord), ("jobs", JobRecord))


@dataclass(frozen=True)
class OwnedCounts:
    """How many studies, datasets and jobs one principal owns."""

    studies: int
    datasets: int
    jobs: int

    @property
    def total(self) -> int:
        return self.studies + self.datasets + self.jobs

    def describe(self) -> str:
        """'3 studies, 1 dataset and 0 jobs'."""
        words = (("study", "studies", self.studies), ("dataset", "datasets", self.datasets), ("job", "jobs", self.jobs))
        parts = [f"{n} {one if n == 1 else many}" for one, many, n in words]
        return f"{parts[0]}, {parts[1]} and {parts[2]}"


def owned_counts(db: Database, owner: str = LOCAL_PRINCIPAL.name) -> OwnedCounts:
    """What ``owner`` owns (default: the local principal)."""
    with db.read() as session:
        counts = {name: int(session.scalar(select(func.count()).select_from(model).where(model.owner == owner)) or 0)
                  for name, model in _OWNED}
    return OwnedCounts(**counts)


def transfer_ownership(db: Database, to: str, source: str = LOCAL_PRINCIPAL.name) -> OwnedCounts:
    """Give everything ``source`` owns to ``to`` (one transaction); returns what moved."""
    if not to or to == source:
        raise ValueError(f"cannot transfer ownership from '{source}' to '{to}'")
    moved = {}
    with db.write() as session:
        for name, model in _OWNED:
            result = session.execute(update(model).where(model.owner == source).values(owner=to)
                                     .execution_options(synchronize_session=False))
            moved[name] = int(result.rowcount or 0)
    return OwnedCounts(**moved)
