"""A test-only job kind, ``test_sleep``, registered through the ``job_plugins`` setting.

It sleeps in steps, reporting progress (and a fake log marginal likelihood) after each, so tests
can observe a running job, cancel it, kill its worker at a chosen step or attempt, or make it fail.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from service.jobs.context import JobContext
from service.jobs.registry import JobConfig, JobKind, register


class SleepJobConfig(JobConfig):
    """Behaviour of a ``test_sleep`` job."""

    steps: int = Field(default=5, ge=1)
    step_seconds: float = Field(default=0.05, ge=0.0)
    fail_with: str | None = Field(default=None, description="raise RuntimeError(fail_with) at the first step")
    kill_at_step: int | None = Field(default=None, description="SIGKILL this process at this step ...")
    kill_on_attempts: list[int] | None = Field(default=None, description="... only on these attempts (None: all)")
    completions_file: str | None = Field(default=None, description="append 'job attempt' when the run finishes")
    plot: bool = Field(default=False, description="also save 'steps.png', a plot of the reported values")


def _steps_png(steps: int) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(4, 3), dpi=80)
    axes.plot(range(1, steps + 1), [-float(step) for step in range(1, steps + 1)], marker="o")
    axes.set_xlabel("step")
    axes.set_ylabel("log marglik")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def run(context: JobContext) -> dict[str, Any]:
    """Sleep ``steps`` times, reporting progress; see :class:`SleepJobConfig`."""
    config: SleepJobConfig = context.config  # type: ignore[assignment]
    for step in range(1, config.steps + 1):
        if config.fail_with and step == 1:
            raise RuntimeError(config.fail_with)
        if config.kill_at_step == step and (config.kill_on_attempts is None or context.attempt in config.kill_on_attempts):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(config.step_seconds)
        context.progress(step / config.steps, f"step {step}/{config.steps}", epoch=step, log_marglik=-float(step),
                         force=True)
    context.artifacts.save_json("out.json", {"attempt": context.attempt, "pid": os.getpid()})
    if config.plot:
        context.artifacts.save_bytes("steps.png", _steps_png(config.steps), "image/png")
    if config.completions_file:
        with Path(config.completions_file).open("a") as handle:
            handle.write(f"{context.job_id} {context.attempt}\n")
    return {"attempt": context.attempt, "steps": config.steps}


KIND = register(JobKind(name="test_sleep", config=SleepJobConfig, run=run, summary="test-only: sleeps in steps"))
