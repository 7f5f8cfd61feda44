"""The ask-evaluate-tell loop behind ``Client.optimize``.

One round asks the server for ``min(batch_size, remaining)`` trials, evaluates the user's function on
each trial's params in turn and reports each result. Every evaluated trial counts towards
``n_trials``, completed or failed, so a function that always fails ends the loop instead of spinning.
Trials of a batch that were never evaluated (because the loop stopped on an exception) are abandoned,
so their leases do not hold the server's pending slots until they expire.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from .errors import BdloptError, NotFoundError
from .models import Study, Trial

if TYPE_CHECKING:  # only for type hints: the client imports this module
    from .client import Client

logger = logging.getLogger("service.sdk")

#: Most trials one ``suggest`` call may ask for (the OpenAPI document: count is 1..64).
MAX_SUGGEST_COUNT = 64
#: Longest failure reason sent to the server (characters).
MAX_REASON_CHARS = 500

ObjectiveFunction = Callable[[dict[str, Any]], "float | Mapping[str, float]"]


def run_optimization(client: Client, fn: ObjectiveFunction, study_id_or_study: str | Study, n_trials: int, *,
                     batch_size: int = 1, progress: bool = True,
                     catch: type[BaseException] | Iterable[type[BaseException]] = ()) -> Trial:
    """Evaluate ``fn`` on ``n_trials`` suggested points of a study and return the study's best trial.

    Args:
        client: the SDK client.
        fn: maps a trial's params dict to a float (single-objective study) or ``{objective: float}``.
        study_id_or_study: the study, or its id.
        n_trials: the number of evaluations (completed + failed) to make.
        batch_size: trials asked for per ``suggest`` call (capped at :data:`MAX_SUGGEST_COUNT`).
        progress: show a tqdm bar with the best value so far.
        catch: exception types of ``fn`` that mark the trial failed and continue; any other exception
            marks it failed and is re-raised (a ``KeyboardInterrupt`` abandons the trial instead).
            A non-finite result also marks the trial failed and continues.

    Returns:
        ``client.best(study)``: the best completed trial of the whole study.

    Raises:
        NotFoundError: no trial of the study is completed at the end.
    """
    if n_trials < 0:
        raise ValueError(f"n_trials must be >= 0, got {n_trials}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    catch_types = (catch,) if isinstance(catch, type) else tuple(catch)
    study = client.study(study_id_or_study)
    names = study.objective_names
    tracker = _BestTracker(study, client if progress else None)
    finished = 0
    with tqdm(total=n_trials, disable=not progress, desc=study.name, unit="trial") as bar:
        while finished < n_trials:
            count = min(batch_size, n_trials - finished, MAX_SUGGEST_COUNT)
            batch = client.suggest(study.id, count=count)
            if not batch:
                raise BdloptError(f"the server suggested no trial for study {study.id} (asked for {count})")
            unevaluated = list(batch)
            try:
                while unevaluated and finished < n_trials:
                    completed = _evaluate(client, fn, study, names, unevaluated.pop(0), catch_types)
                    tracker.update(completed)
                    finished += 1
                    bar.update(1)
                    bar.set_postfix(tracker.postfix(), refresh=False)
            finally:
                _abandon_all(client, study.id, unevaluated)
    return client.best(study.id)


def _evaluate(client: Client, fn: ObjectiveFunction, study: Study, names: list[str], trial: Trial,
              catch_types: tuple[type[BaseException], ...]) -> Trial | None:
    """Evaluate one trial and report it; the completed trial, or ``None`` when it was marked failed.

    An exception of ``fn`` outside ``catch_types`` is re-raised after marking the trial failed
    (``Exception``) or abandoned (``KeyboardInterrupt`` and other ``BaseException``).
    """
    try:
        values = _as_values(fn(dict(trial.params)), names)
    except catch_types as exc:
        logger.info("trial %s failed: %r", trial.id, exc)
        client.fail(study.id, trial.id, reason=_reason(exc))
        return None
    except Exception as exc:
        _quietly(lambda: client.fail(study.id, trial.id, reason=_reason(exc)))
        raise
    except BaseException:
        _quietly(lambda: client.abandon(study.id, trial.id))
        raise
    bad = [name for name, value in values.items() if not math.isfinite(value)]
    if bad:
        logger.warning("trial %s: fn returned non-finite %s; marked failed", trial.id, values)
        client.fail(study.id, trial.id, reason=f"non-finite objective value for {bad}")
        return None
    return client.observe(study.id, trial.id, values)


def _as_values(result: Any, names: list[str]) -> dict[str, float]:
    """``{objective: float}`` from ``fn``'s result: a mapping, or a number for one objective."""
    if isinstance(result, Mapping):
        return {str(key): float(value) for key, value in result.items()}
    if len(names) != 1:
        raise TypeError(f"fn must return a dict {{objective: value}} for objectives {names}, got {result!r}")
    try:
        return {names[0]: float(result)}
    except (TypeError, ValueError) as exc:
        raise TypeError(f"fn must return a number, got {result!r}") from exc


def _abandon_all(client: Client, study_id: str, trials: list[Trial]) -> None:
    for trial in trials:
        _quietly(lambda trial=trial: client.abandon(study_id, trial.id))


def _quietly(call: Callable[[], Any]) -> None:
    """Run a clean-up call while another exception propagates; its own SDK error is only logged."""
    try:
        call()
    except BdloptError as exc:
        logger.warning("clean-up call failed: %s", exc)


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


class _BestTracker:
    """Best single-objective value seen (for the progress bar); starts from the server's best if any."""

    def __init__(self, study: Study, client: Client | None) -> None:
        single = len(study.objectives) == 1
        self.name = study.objectives[0].name if single else None
        self.maximize = single and study.objectives[0].goal == "maximize"
        self.best: float | None = None
        self.failed = 0
        if self.name is not None and client is not None:
            try:
                self.update(client.best(study.id))
            except NotFoundError:
                pass

    def update(self, trial: Trial | None) -> None:
        """Account for one finished trial (``None`` = failed)."""
        if trial is None:
            self.failed += 1
            return
        if self.name is None or not trial.values or self.name not in trial.values:
            return
        value = trial.values[self.name]
        if self.best is None or (value > self.best if self.maximize else value < self.best):
            self.best = value

    def postfix(self) -> dict[str, str]:
        """The tqdm postfix: best value and number of failed trials."""
        postfix = {}
        if self.best is not None:
            postfix["best"] = f"{self.best:.6g}"
        if self.failed:
            postfix["failed"] = str(self.failed)
        return postfix
