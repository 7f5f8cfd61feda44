"""ORM models of the study database (typed SQLAlchemy 2 declarative mapping).

These are storage records, kept apart from the API's pydantic schemas and from the domain's
views; the domain layer converts between them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from service.db.types import UTCDateTime


class Base(DeclarativeBase):
    """Declarative base of every bdlopt table."""


class StudyRecord(Base):
    """One optimisation study: its search space, objectives and surrogate choice."""

    __tablename__ = "studies"
    __table_args__ = (Index("uq_studies_owner_name", "owner", "name", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    owner: Mapped[str] = mapped_column(String(128), index=True, server_default="local")
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    objectives: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    surrogate: Mapped[str] = mapped_column(String(32))
    surrogate_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome_constraints: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    parameter_constraints: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    # The early-stopping settings (service.stopping.settings); None: no early stopping.
    early_stopping: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    initial_design_size: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    lease_seconds: Mapped[int] = mapped_column(Integer)
    next_trial_number: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every change to the study's trials (suggest, observe, fail, abandon, expiry).
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    trials: Mapped[list[TrialRecord]] = relationship(
        back_populates="study", cascade="all, delete-orphan", passive_deletes=True
    )


class TrialRecord(Base):
    """One evaluation of the objective: suggested by a policy or attached from outside."""

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_trials_study_number"),
        Index("ix_trials_study_state", "study_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    noise_sd: Mapped[dict[str, float] | None] = mapped_column(JSON, nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    policy: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fail_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    study: Mapped[StudyRecord] = relationship(back_populates="trials")
    reports: Mapped[list[TrialReportRecord]] = relationship(
        back_populates="trial", cascade="all, delete-orphan", passive_deletes=True,
        order_by="TrialReportRecord.step", lazy="selectin",
    )


class TrialReportRecord(Base):
    """One intermediate value of a trial: the objective(s) measured at ``step`` (epochs, iterations)."""

    __tablename__ = "trial_reports"
    __table_args__ = (Index("ix_trial_reports_study", "study_id"),)

    trial_id: Mapped[str] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    values: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    trial: Mapped[TrialRecord] = relationship(back_populates="reports")


class ModelStateRecord(Base):
    """A surrogate's fitted state for one study: what the next fit warm-starts from.

    ``payload`` is the state serialised with safetensors (``SurrogateState.to_bytes``);
    ``fingerprint`` identifies the data it was fitted on and ``data_version`` the study
    version at that time. Deleted with its study.
    """

    __tablename__ = "model_states"

    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True)
    surrogate: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(256))
    fingerprint: Mapped[str] = mapped_column(String(64))
    data_version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
