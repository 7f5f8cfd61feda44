"""``bdlopt worker``: a Celery worker node with one pool process per GPU.

The parent process never initialises CUDA (it only forks); each pool child pins itself to one
GPU through ``CUDA_VISIBLE_DEVICES`` before anything touches CUDA, and opens its own database
connections (connections must not cross a fork).
"""

from __future__ import annotations

import logging
import os

from celery.signals import worker_process_init, worker_process_shutdown
from celery.utils.log import current_process_index

from service.config import Settings
from service.jobs.registry import load_plugins
from service.workers.celery_app import create_celery_app, queue_name
from service.workers.gpus import cuda_initialised, discover_gpus
from service.workers.process_database import close_process_database

logger = logging.getLogger(__name__)

def plan_concurrency(queues: list[str], gpus: list[str], concurrency: int | None) -> int:
    """Pool processes: the explicit number, else one per GPU on a GPU-queue node, else 1."""
    if concurrency is not None:
        return concurrency
    return len(gpus) if "gpu" in queues and gpus else 1


def run_worker(settings: Settings, *, queues: list[str], concurrency: int | None = None, gpus: str | None = None,
               pool: str = "prefork", loglevel: str = "INFO", hostname: str | None = None) -> None:
    """Consume the given logical queues until stopped (blocks).

    Args:
        settings: service settings (broker, database, time limits, plugins).
        queues: logical queues, e.g. ``["gpu", "cpu"]``.
        concurrency: pool processes (default: one per GPU, or 1).
        gpus: comma-separated GPU ids (default: ``CUDA_VISIBLE_DEVICES`` or ``nvidia-smi``).
        pool: Celery pool ("prefork" forks one child per process; "solo" runs in this process).
        loglevel: Celery log level.
        hostname: the Celery node name (default ``bdlopt-<pid>@<host>``).
    """
    unknown = sorted(set(queues) - {"gpu", "cpu"})
    if unknown:
        raise ValueError(f"unknown queues {unknown}; use gpu and/or cpu")
    gpu_ids = discover_gpus(gpus)
    if "gpu" in queues and not gpu_ids:
        logger.warning("consuming the gpu queue without a visible GPU: jobs asking for cuda will fail")
    processes = plan_concurrency(queues, gpu_ids, concurrency)
    if cuda_initialised():
        raise RuntimeError("CUDA was initialised before the worker forks its pool processes")
    load_plugins(settings.job_plugin_modules())

    @worker_process_init.connect(weak=False)
    def _pin_child(**_: object) -> None:
        index = current_process_index(base=0) or 0
        if gpu_ids:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu_ids[index % len(gpu_ids)]
        if settings.torch_threads:
            from service.compute_threads import limit_compute_threads

            limit_compute_threads(settings.torch_threads)
        logger.info("pool process %d pinned to GPU %s", index, os.environ.get("CUDA_VISIBLE_DEVICES", "none"))

    @worker_process_shutdown.connect(weak=False)
    def _close_child(**_: object) -> None:
        close_process_database()

    if pool == "solo" and settings.torch_threads:
        from service.compute_threads import limit_compute_threads

        limit_compute_threads(settings.torch_threads)
    app = create_celery_app(settings)
    argv = ["worker", f"--queues={','.join(queue_name(settings, q) for q in queues)}",
            f"--concurrency={processes}", f"--pool={pool}", f"--loglevel={loglevel}",
            f"--hostname={hostname or f'bdlopt-{os.getpid()}@%h'}", "--without-gossip", "--without-mingle"]
    logger.info("bdlopt worker: queues %s, %d process(es), GPUs %s", queues, processes, gpu_ids or "none")
    app.worker_main(argv)
