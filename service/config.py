"""Service settings, read from ``BDLOPT_*`` environment variables (pydantic-settings).

Every operator-facing knob lives here, so the README's settings table, the Docker files and the
tests can all be checked against one class.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration of the bdlopt server."""

    model_config = SettingsConfigDict(env_prefix="BDLOPT_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Directory for the embedded SQLite database and other local files.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the study database; default: SQLite file <data_dir>/bdlopt.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host:5432/dbname",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000, ge=0, description="How long a SQLite writer waits for the lock (milliseconds)."
    )
    migrate_on_startup: bool = Field(
        default=True, description="Apply Alembic migrations when the server starts."
    )
    default_lease_seconds: int = Field(
        default=3600, ge=1, description="Lease of a suggested trial when the study does not set one."
    )
    torch_threads: int | None = Field(
        default=1, ge=1,
        description="Intra-op threads of PyTorch and of the BLAS libraries (scipy's L-BFGS-B) in this process. 1 suits the API: its model fits are small and "
        "requests run in parallel threads, so more threads only oversubscribe the cores.",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_json: bool = Field(default=True, description="Log one JSON object per line (with the request id).")
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted, dataset uploads aside (bytes); 413 above."
    )
    rate_limit_suggest_per_minute: float = Field(
        default=600, ge=0, description="suggest calls per minute and principal (0: unlimited); 429 with Retry-After above."
    )
    rate_limit_jobs_per_minute: float = Field(
        default=30, ge=0, description="Job submissions per minute and principal (0: unlimited)."
    )
    rate_limit_local_mode: bool = Field(
        default=False,
        description="Apply the rate limits in local mode too (requests without a key on a loopback server).",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by the API processes (rate limits); default: the broker when job_backend is "
        "'celery', else none (each process limits on its own).",
    )

    # Background jobs (service.jobs, service.workers) and datasets (service.datasets).
    job_backend: Literal["local", "celery"] = Field(
        default="local",
        description="Where jobs run: 'local' (a worker pool inside `bdlopt serve`) or 'celery' "
        "(`bdlopt worker` processes fed through the Redis broker).",
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Celery broker URL (Redis) of the 'celery' job back end."
    )
    celery_queue_prefix: str = Field(
        default="",
        description="Prefix of the Celery queue names, so several deployments can share one Redis: 'prod' gives "
        "'prod.gpu' and 'prod.cpu' (a prefix ending in . - _ or : is used as it is).",
    )
    local_workers: int = Field(
        default=1, ge=0, description="Jobs the 'local' back end runs at the same time (threads of `bdlopt serve`)."
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="Attempts of a job whose worker was lost before the job is marked failed."
    )
    job_heartbeat_seconds: float = Field(
        default=10.0, gt=0, description="How often a running job's worker reports that it is alive."
    )
    job_reaper_timeout_seconds: float = Field(
        default=120.0, gt=0,
        description="A running job whose last heartbeat is older than this is requeued (its worker is lost).",
    )
    job_reaper_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often the API process looks for jobs of lost workers."
    )
    job_time_limit_seconds: int = Field(
        default=24 * 3600, ge=1,
        description="Hard time limit of one job attempt on a Celery worker (the process is killed after it).",
    )
    broker_visibility_timeout_seconds: int = Field(
        default=26 * 3600, ge=1,
        description="Seconds before Redis re-delivers an unacknowledged job message; must exceed the time limit.",
    )
    job_plugins: str = Field(
        default="",
        description="Comma-separated Python modules imported at start-up that register extra job kinds.",
    )
    artifacts_dir: Path | None = Field(
        default=None,
        description="Directory of job artifacts (default <data_dir>/artifacts); shared by the API and every worker.",
    )
    datasets_dir: Path | None = Field(
        default=None,
        description="Directory of uploaded datasets (default <data_dir>/datasets); shared by the API and every worker.",
    )
    dataset_max_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Largest dataset upload accepted (bytes)."
    )

    @model_validator(mode="after")
    def _time_limit_below_visibility_timeout(self) -> Settings:
        if self.job_time_limit_seconds >= self.broker_visibility_timeout_seconds:
            raise ValueError(
                "job_time_limit_seconds must be shorter than broker_visibility_timeout_seconds, or Redis "
                "re-delivers a job that is still running"
            )
        if self.job_heartbeat_seconds * 2 > self.job_reaper_timeout_seconds:
            raise ValueError(
                "job_reaper_timeout_seconds must be at least twice job_heartbeat_seconds, or live jobs look lost"
            )
        return self

    def resolved_artifacts_dir(self) -> Path:
        """Where job artifacts are stored."""
        return self.artifacts_dir if self.artifacts_dir is not None else self.data_dir / "artifacts"

    def resolved_datasets_dir(self) -> Path:
        """Where uploaded datasets are stored."""
        return self.datasets_dir if self.datasets_dir is not None else self.data_dir / "datasets"

    def job_plugin_modules(self) -> list[str]:
        """The module names listed in ``job_plugins``."""
        return [name.strip() for name in self.job_plugins.split(",") if name.strip()]

    def resolved_database_url(self) -> str:
        """The database URL to connect to (the SQLite default lives under ``data_dir``)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'bdlopt.db').as_posix()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own ``Settings``)."""
    return Settings()
