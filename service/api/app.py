"""The FastAPI application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service import __doc__ as service_doc
from service.api import job_openapi
from service.api.errors import install_error_handlers
from service.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from service.api.rate_limit import build_rate_limits
from service.api.routes import datasets, health, jobs, metrics, studies, study_data, trials
from service.config import Settings, get_settings
from service.db import Database
from service.db.migrate import upgrade
from service.jobs.registry import load_plugins
from service.ui.mount import install_ui
from service.workers.backend import JobBackend, create_backend
from service.workers.reaper_loop import ReaperThread

logger = logging.getLogger(__name__)

API_VERSION = "0.1.0"
# Set by ``bdlopt serve --workers N`` for its worker processes: whether the server is bound to a loopback address.
SERVE_LOOPBACK_ENV = "BDLOPT_SERVE_LOOPBACK"


def create_app(settings: Settings | None = None, database: Database | None = None,
               job_backend: JobBackend | None = None, *, loopback: bool = True) -> FastAPI:
    """Build the app.

    Args:
        settings: configuration (default: read from the environment).
        database: an existing database (tests); default: one built from ``settings``.
        job_backend: where jobs run (tests); default: the one ``settings.job_backend`` names. It is
            started and stopped with the app, together with the reaper of jobs of lost workers.
        loopback: the server is bound to a loopback address, so local mode (no API key while none
            exists) may apply; ``bdlopt serve`` passes False for any other address.
    """
    settings = settings or get_settings()
    owns_database = database is None
    database = database or Database(
        settings.resolved_database_url(), sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    backend = job_backend or create_backend(settings, database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.torch_threads:
            from service.compute_threads import limit_compute_threads

            limit_compute_threads(settings.torch_threads)
        if settings.migrate_on_startup:
            upgrade(database)
        load_plugins(settings.job_plugin_modules())
        backend.start()
        reaper = ReaperThread(database, backend, settings)
        reaper.start()
        logger.info("bdlopt ready on database %s", database.url.render_as_string(hide_password=True))
        logger.info("rate limits: %s%s", app.state.rate_limits.scope,
                    "" if settings.rate_limit_local_mode else "; off in local mode")
        yield
        reaper.stop()
        backend.stop()
        if owns_database:
            database.dispose()

    app = FastAPI(
        title="bdlopt",
        version=API_VERSION,
        summary="Bayesian optimisation as a service: GP and linearised-Laplace surrogates.",
        description=(service_doc or "").strip(),
        lifespan=lifespan,
        docs_url=None,  # served offline by service.ui
        redoc_url=None,
        # FastAPI's native OpenTelemetry hook asks the OTel API whether a provider is configured on
        # every request (about 6% of the request threads' samples under 16 clients, py-spy). bdlopt
        # exports Prometheus metrics (/metrics) and JSON logs; OTel would be instrumented explicitly.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.database = database
    app.state.job_backend = backend
    app.state.loopback = loopback
    app.state.rate_limits = build_rate_limits(settings)
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_bytes,
        overrides=(("/v1/datasets", settings.dataset_max_bytes + 1024 * 1024),),
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(trials.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(study_data.router)
    app.include_router(studies.router)
    app.include_router(datasets.router)
    app.include_router(jobs.router)
    install_ui(app)
    job_openapi.install(app, settings.job_plugin_modules())
    return app


def create_app_for_worker() -> FastAPI:
    """The app of one worker process of ``bdlopt serve --workers N`` (uvicorn starts each worker fresh
    and calls this factory): settings from the environment the parent process prepared (the database
    URL resolved, migrations already applied), logging configured again, and the parent's bind
    address told by ``BDLOPT_SERVE_LOOPBACK``."""
    from service.observability.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings, loopback=os.environ.get(SERVE_LOOPBACK_ENV) == "1")
