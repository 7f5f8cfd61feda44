"""The ask-evaluate-tell loop behind ``Client.optimize``: parallel, resumable, nothing evaluated is lost.

* **Budget.** ``n_trials`` is the number of *completed* trials the study should hold in total: a
  study that already has some (an earlier run, another worker) only gets the rest, so rerunning the
  same call after a crash finishes the job. Failed trials do not count.
* **Lanes.** ``n_jobs`` lanes evaluate at once (threads, or processes with ``executor="process"``).
  Lane ``i`` asks ``suggest`` with the client id ``<client_id>#<i>``; the server re-offers the pending
  trials a client id already holds, so after a crash each lane first gets back what it was evaluating.
  Each suggest asks for up to ``batch_size`` trials, evaluated in turn by that lane.
* **Journal.** Each result is written to the local journal (:mod:`bdlopt_client.journal`) inside
  the worker as soon as ``fn`` returns, then sent; unacknowledged results of an earlier run are sent
  first. observe/fail of a trial id are idempotent on the server, so a replay never counts twice.
* **Failures.** An exception of ``fn`` marks its trial failed with the message. Exceptions of the
  ``catch`` types continue the loop until ``max_consecutive_failures`` trials in a row failed; any
  other exception stops the loop and is re-raised. A non-finite value marks the trial failed.
* **Leases** of the trials being evaluated are extended by heartbeats (every third of the lease).
* **Stop.** ``timeout`` seconds after the start no new trial is started; running ones finish. At the
  end, trials this run holds but did not evaluate are abandoned, so nothing stays pending.
* If the server stays unreachable past the SDK's retry deadline, the loop waits for the running
  evaluations (their results go to the journal), then raises; the next run sends them.
"""

from __future__ import annotations

import concurrent.futures as futures
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .errors import (
    BadRequestError,
    BdloptConnectionError,
    BdloptError,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from .evaluation import ObjectiveFunction, evaluate_trial
from .trial_handle import TrialHandle, accepts_trial
from .journal import Journal, JournalEntry, default_journal_dir, journal_file_name
from .models import Study, Trial

if TYPE_CHECKING:  # only for type hints: the client imports this module
    from .client import Client

logger = logging.getLogger("bdlopt_client")

#: Most trials one ``suggest`` call may ask for (the OpenAPI document: count is 1..64).
MAX_SUGGEST_COUNT = 64
#: Longest client id the server accepts (characters).
MAX_CLIENT_ID_CHARS = 128
#: Seconds between checks of the running evaluations when no heartbeat is due sooner.
POLL_SECONDS = 1.0

Callback = Callable[[Study, Trial], Any]


@dataclass
class _Lane:
    """One parallel slot: its client id, the trials it holds and the one it evaluates."""

    client_id: str
    queue: deque[Trial] = field(default_factory=deque)
    running: Trial | None = None


def default_client_id() -> str:
    """``<host name>-optimize``: stable across runs on one machine, so a rerun gets its held trials back."""
    return f"{socket.gethostname()}-optimize"[: MAX_CLIENT_ID_CHARS - 4]


def run_optimization(client: Client, fn: ObjectiveFunction, study_ref: str | Study, n_trials: int, *,
                     batch_size: int = 1, n_jobs: int = 1, timeout: float | None = None,
                     callbacks: Sequence[Callback] = (),
                     catch: type[BaseException] | Iterable[type[BaseException]] = (Exception,),
                     max_consecutive_failures: int = 5, executor: str = "thread",
                     journal: bool | str | Path = True, client_id: str | None = None,
                     progress: bool = True) -> Trial | list[Trial]:
    """Evaluate ``fn`` until the study holds ``n_trials`` completed trials; return its best trial
    (for a study with several objectives, the list of trials on its Pareto front).

    Args:
        client: the SDK client.
        fn: maps a trial's params dict to a float (single-objective study) or ``{objective: float}``.
        study_ref: the study, its id or its name.
        n_trials: completed trials the study should hold at the end (earlier ones included).
        batch_size: trials each lane asks for per ``suggest`` call (capped at :data:`MAX_SUGGEST_COUNT`).
        n_jobs: evaluations running at once.
        timeout: seconds after which no new evaluation starts (``None``: no limit).
        callbacks: each called as ``callback(study, trial)`` after every finished trial (completed or failed).
        catch: exception types of ``fn`` that fail the trial and continue.
        max_consecutive_failures: stop (re-raising the last exception) after this many failed trials in a row.
        executor: ``"thread"`` or ``"process"`` (``fn`` and its results must then be picklable).
        journal: ``True`` for the default file (:func:`bdlopt_client.journal.default_journal_dir`), a path,
            or ``False`` for none (a crash may then lose evaluated results).
        client_id: the base of the lanes' client ids (default :func:`default_client_id`); two
            concurrent ``optimize`` runs on one study from one host need different ones.
        progress: show a tqdm bar with the best value so far.

    Raises:
        NotFoundError: no trial of the study is completed at the end.
        BdloptConnectionError: the server stayed unreachable (results are kept in the journal).
    """
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    for name, value in (("batch_size", batch_size), ("n_jobs", n_jobs),
                        ("max_consecutive_failures", max_consecutive_failures)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    if executor == "process" and accepts_trial(fn):
        raise ValueError("fn(params, trial) reports through this client: use executor='thread'")
    study = client.get_study(client.study(study_ref).id)
    base_id = (client_id or default_client_id())[: MAX_CLIENT_ID_CHARS - 4]
    run = _Run(client, fn, study, n_trials, batch_size=min(batch_size, MAX_SUGGEST_COUNT), timeout=timeout,
               callbacks=list(callbacks), catch=(catch,) if isinstance(catch, type) else tuple(catch),
               max_failures=max_consecutive_failures, journal=_open_journal(client, study, base_id, journal),
               lanes=[_Lane(f"{base_id}#{i}") for i in range(n_jobs)], progress=progress)
    pool_type = futures.ThreadPoolExecutor if executor == "thread" else futures.ProcessPoolExecutor
    pool = pool_type(max_workers=n_jobs)
    try:
        run.execute(pool)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)  # Ctrl-C does not wait for hour-long evaluations
        raise
    pool.shutdown()
    return client.best(study.id) if len(study.objectives) == 1 else client.pareto(study.id)


def _open_journal(client: Client, study: Study, base_id: str, journal: bool | str | Path) -> Journal | None:
    if journal is False or journal is None:
        return None
    path = default_journal_dir() / journal_file_name(client.base_url, study.id, base_id) if journal is True \
        else Path(journal)
    return Journal(path)


class _Run:
    """The state of one ``optimize`` call (used from the calling thread only)."""

    def __init__(self, client: Client, fn: ObjectiveFunction, study: Study, n_trials: int, *, batch_size: int,
                 timeout: float | None, callbacks: list[Callback], catch: tuple[type[BaseException], ...],
                 max_failures: int, journal: Journal | None, lanes: list[_Lane], progress: bool) -> None:
        self.client, self.fn, self.study, self.n_trials = client, fn, study, n_trials
        self.takes_trial = accepts_trial(fn)  # fn(params, trial): may report intermediate values
        self.batch_size, self.callbacks, self.catch, self.max_failures = batch_size, callbacks, catch, max_failures
        self.journal, self.lanes = journal, lanes
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.heartbeat_every = max(1.0, (study.lease_seconds or 3600) / 3)
        self.next_heartbeat = time.monotonic() + self.heartbeat_every
        self.names = study.objective_names
        self.completed = 0
        self.failures_in_a_row = 0
        self.stop_error: BaseException | None = None
        self.offline_error: BdloptConnectionError | None = None
        self.bar = tqdm(total=n_trials, disable=not progress, desc=study.name, unit="trial")
        self.best: float | None = None
        self.maximize = len(study.objectives) == 1 and study.objectives[0].goal == "maximize"

    # ------------------------------------------------------------------ main loop
    def execute(self, pool: futures.Executor) -> None:
        running: dict[futures.Future, _Lane] = {}
        try:
            self._replay_journal()
            counts = self.client.get_study(self.study.id).trial_counts
            self.completed = counts.get("completed", 0) + counts.get("early_stopped", 0)
            self.bar.update(min(self.completed, self.n_trials))
            if self.completed and len(self.study.objectives) == 1:
                try:
                    self._track_best(self.client.best(self.study.id).values or {})
                except NotFoundError:  # completed trials, none of them feasible yet
                    pass
            while True:
                if self._may_start():
                    for lane in self.lanes:
                        if lane.running is None and self._may_start():
                            self._start(pool, lane, running)
                if not running:
                    break
                done, _ = futures.wait(running, timeout=self._wait_seconds(), return_when=futures.FIRST_COMPLETED)
                for future in done:
                    self._finish(running.pop(future), future)
                self._heartbeat_if_due()
        except BaseException:
            for future in running:
                future.cancel()
            raise
        finally:
            self.bar.close()
            self._release_unevaluated()
            if self.journal is not None and self.offline_error is None:
                self.journal.compact()
        if self.offline_error is not None:
            raise self.offline_error
        if self.stop_error is not None:
            raise self.stop_error

    def _may_start(self) -> bool:
        if self.stop_error is not None or self.offline_error is not None:
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        return self.completed + self._running_count() < self.n_trials

    def _running_count(self) -> int:
        return sum(lane.running is not None for lane in self.lanes)

    def _start(self, pool: futures.Executor, lane: _Lane, running: dict[futures.Future, _Lane]) -> None:
        if not lane.queue:
            count = min(self.batch_size, self.n_trials - self.completed - self._running_count())
            try:
                lane.queue.extend(self.client.suggest(self.study.id, count=count, client_id=lane.client_id))
            except BdloptConnectionError as error:
                self.offline_error = error
                return
            if not lane.queue:
                raise BdloptError(f"the server suggested no trial for study {self.study.id} (asked for {count})")
        lane.running = lane.queue.popleft()
        trial = lane.running
        handle = TrialHandle(self.client, self.study.id, trial) if self.takes_trial else None
        running[pool.submit(evaluate_trial, self.fn, trial.id, dict(trial.params), self.names, self.journal,
                            handle)] = lane

    def _wait_seconds(self) -> float:
        return max(0.0, min(POLL_SECONDS, self.next_heartbeat - time.monotonic()))

    # ------------------------------------------------------------------ results
    def _finish(self, lane: _Lane, future: futures.Future) -> None:
        lane.running = None
        entry, error = future.result()  # a BaseException of fn (KeyboardInterrupt) propagates from here
        if entry.kind == "stopped":  # early-stopped: recorded by the server, counts as an evaluation
            self.completed += 1
            self.failures_in_a_row = 0
            self.bar.update(1)
            return
        reported = self._send(entry)
        if entry.kind == "observe":
            self.completed += 1
            self.failures_in_a_row = 0
            self.bar.update(1)
            self._track_best(entry.values or {})
        else:
            self.failures_in_a_row += 1
            logger.info("trial %s failed: %s", entry.trial_id, entry.reason)
            if error is not None and not isinstance(error, self.catch):
                self.stop_error = error
            elif self.failures_in_a_row >= self.max_failures:
                self.stop_error = error or BdloptError(
                    f"{self.failures_in_a_row} trials in a row failed; last: {entry.reason}")
        if reported is not None:
            for callback in self.callbacks:
                callback(self.study, reported)

    def _send(self, entry: JournalEntry) -> Trial | None:
        """Report ``entry``; the server's trial, or ``None`` when the server is unreachable (kept in the journal)."""
        if self.offline_error is not None:
            return None
        try:
            if entry.kind == "observe":
                trial = self.client.observe(self.study.id, entry.trial_id, entry.values)
            else:
                trial = self.client.fail(self.study.id, entry.trial_id, reason=entry.reason)
        except BdloptConnectionError as error:
            self.offline_error = error
            return None
        if self.journal is not None:
            self.journal.acknowledge(entry.trial_id)
        return trial

    def _replay_journal(self) -> None:
        if self.journal is None:
            return
        for entry in self.journal.pending():
            try:
                self._send(entry)
            # recorded otherwise, the study is gone, or the server refuses the entry: it can never be sent
            except (ConflictError, NotFoundError, ValidationError, BadRequestError) as error:
                logger.warning("journal entry of trial %s not replayed: %s", entry.trial_id, error)
                self.journal.acknowledge(entry.trial_id)
            if self.offline_error is not None:
                raise self.offline_error

    def _track_best(self, values: dict[str, float]) -> None:
        if len(self.names) != 1 or self.names[0] not in values:
            return
        value = values[self.names[0]]
        if self.best is None or (value > self.best if self.maximize else value < self.best):
            self.best = value
            self.bar.set_postfix(best=f"{value:.6g}", refresh=False)

    # ------------------------------------------------------------------ leases
    def _heartbeat_if_due(self) -> None:
        if time.monotonic() < self.next_heartbeat:
            return
        self.next_heartbeat = time.monotonic() + self.heartbeat_every
        for lane in self.lanes:
            for trial in ([lane.running] if lane.running else []) + list(lane.queue):
                try:
                    self.client.heartbeat(self.study.id, trial.id)
                except BdloptError as error:  # expired (still observable) or the server is away: not fatal
                    logger.warning("heartbeat of trial %s failed: %s", trial.id, error)

    def _release_unevaluated(self) -> None:
        """Abandon the pending trials this run's client ids hold and nobody evaluates (best effort)."""
        if self.offline_error is not None:
            return
        prefix = self.lanes[0].client_id.rpartition("#")[0] + "#"  # lanes of earlier runs with more n_jobs too
        busy = {lane.running.id for lane in self.lanes if lane.running is not None}
        try:
            for trial in self.client.trials(self.study.id, state="pending"):
                if (trial.client_id or "").startswith(prefix) and trial.id not in busy:
                    self.client.abandon(self.study.id, trial.id)
        except BdloptError as error:
            logger.warning("could not abandon the unevaluated trials: %s", error)
