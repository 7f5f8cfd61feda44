"""Celery configuration for long ML jobs, GPU planning and settings validation (no broker needed)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from service.config import Settings
from service.workers.celery_app import TASK_NAME, create_celery_app, queue_name, soft_time_limit
from service.workers.celery_worker import plan_concurrency
from service.workers.gpus import discover_gpus


def test_celery_is_configured_for_long_jobs() -> None:
    settings = Settings(job_time_limit_seconds=3600, broker_visibility_timeout_seconds=7200,
                        celery_queue_prefix="x-", broker_url="redis://example:6379/3")
    conf = create_celery_app(settings).conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit == 3600 < conf.broker_transport_options["visibility_timeout"] == 7200
    assert conf.task_soft_time_limit == 3600 - 180 and conf.task_ignore_result
    assert [queue.name for queue in conf.task_queues] == ["x-gpu", "x-cpu"] and conf.task_default_queue == "x-cpu"
    assert conf.broker_url == "redis://example:6379/3" and conf.accept_content == ["json"]
    task = create_celery_app(settings).tasks[TASK_NAME]
    assert task.acks_late and task.reject_on_worker_lost
    other = create_celery_app(Settings()).tasks[TASK_NAME]
    assert other.run is not task.run  # each app's task runs with that app's settings


def test_the_queue_prefix_is_separated_from_the_queue() -> None:
    assert queue_name(Settings(celery_queue_prefix="prod"), "gpu") == "prod.gpu"
    assert queue_name(Settings(celery_queue_prefix="team-"), "cpu") == "team-cpu"
    assert queue_name(Settings(), "gpu") == "gpu"


def test_soft_time_limit_stays_below_the_hard_one() -> None:
    assert soft_time_limit(1) == 1 and soft_time_limit(100) == 95 and soft_time_limit(86400) == 86400 - 300


def test_the_time_limit_must_be_shorter_than_the_visibility_timeout() -> None:
    with pytest.raises(ValidationError, match="visibility"):
        Settings(job_time_limit_seconds=7200, broker_visibility_timeout_seconds=7200)


def test_the_reaper_timeout_must_leave_room_for_missed_heartbeats() -> None:
    with pytest.raises(ValidationError, match="heartbeat"):
        Settings(job_heartbeat_seconds=10, job_reaper_timeout_seconds=15)
    assert Settings(job_heartbeat_seconds=10, job_reaper_timeout_seconds=20).job_reaper_timeout_seconds == 20


def test_one_pool_process_per_gpu(monkeypatch) -> None:
    assert discover_gpus("0, 2") == ["0", "2"] and discover_gpus("") == []
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,3")
    assert discover_gpus() == ["1", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert discover_gpus() == []
    assert plan_concurrency(["gpu", "cpu"], ["0", "1"], None) == 2
    assert plan_concurrency(["cpu"], ["0", "1"], None) == 1
    assert plan_concurrency(["gpu"], [], None) == 1
    assert plan_concurrency(["gpu"], ["0"], 4) == 4


def test_starting_a_worker_leaves_cuda_uninitialised_in_the_parent() -> None:
    code = ("import service.workers.celery_worker as w, service.jobs.registry as r; "
            "r.load_plugins([]); from service.workers.gpus import cuda_initialised; "
            "import torch; print(cuda_initialised(), 'torch' in __import__('sys').modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_unknown_queues_are_refused() -> None:
    from service.workers.celery_worker import run_worker

    with pytest.raises(ValueError, match="unknown queues"):
        run_worker(Settings(), queues=["gpu", "tpu"])
