"""SQLAlchemy Core statements for the calls every client makes once per trial: suggest and observe.

Why Core here and the ORM elsewhere: a suggest of a ``random`` study and the observe of its trial run
once per trial from every client, so their cost is the service's throughput. Through the ORM most of
that cost went to Python, not to the database: building each statement anew (``Column == value``
expressions and their cache keys), the identity map and the unit-of-work flush. Measured with
py-spy on 2 cores while 16 HTTP clients looped suggest -> observe, the ORM work was about half of
the server's CPU. Here every statement is built once, with bind parameters, and runs on a Core
connection; rows come back as :class:`~sqlalchemy.engine.Row` objects whose attributes are the
column names, so a study row serves the domain functions that read a ``StudyRecord``'s attributes
(``search_space``, ``build_request``, ``check_values``) and a trial row those that read a
``TrialRecord``'s. The ORM stays for everything else (readability first where a call is rare).

Locks: a write transaction locks the study's row first (``count_change``, ``reserve_numbers``: an
``UPDATE`` that returns the row, so the study is read, checked and locked in one statement), then trials, the order every
write on a study's trials keeps (``records.load_study``), so two never wait for each other in a cycle
on PostgreSQL. On SQLite every write transaction holds the database lock from its start
(``BEGIN IMMEDIATE``, see ``service.db.engine``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Integer, Row, and_, bindparam, false, func, insert, or_, select, update
from sqlalchemy.sql import Update

from service.db.models import StudyRecord, TrialRecord, TrialReportRecord
from service.errors import NotFoundError
from service.studies.views import Trial

STUDIES = StudyRecord.__table__
TRIALS = TrialRecord.__table__
REPORTS = TrialReportRecord.__table__

# States a trial can be observed from: pending, expired (late results are welcome), queued (an enqueued point
# evaluated without a suggest, see ``enqueue``).
OBSERVABLE_STATES = ("pending", "expired", "queued")

# Bind parameter names never equal a column name: those are reserved for INSERT/UPDATE values.
_QUEUED = (
    select(TRIALS).where(TRIALS.c.study_id == bindparam("b_study"), TRIALS.c.state == "queued")
    .order_by(TRIALS.c.number)
)
# The queued trials and those a client holds (live pending trials suggested to it), in one query.
_QUEUED_OR_HELD = (
    select(TRIALS)
    .where(TRIALS.c.study_id == bindparam("b_study"),
           or_(TRIALS.c.state == "queued",
               and_(TRIALS.c.state == "pending", TRIALS.c.client_id == bindparam("b_client"),
                    TRIALS.c.lease_expires_at >= bindparam("b_now"))))
    .order_by(TRIALS.c.number)
)
_EXPIRE = (
    update(TRIALS)
    .where(TRIALS.c.study_id == bindparam("b_study"), TRIALS.c.state == "pending",
           TRIALS.c.lease_expires_at < bindparam("b_now"))
    .values(state="expired")
)
_CLAIM = (
    update(TRIALS)
    .where(TRIALS.c.id.in_(bindparam("b_ids", expanding=True)))
    .values(state="pending", client_id=bindparam("b_client"), lease_expires_at=bindparam("b_lease"))
)
_INSERT = insert(TRIALS)
_SET_NEXT = update(STUDIES).where(STUDIES.c.id == bindparam("b_study")).values(next_trial_number=bindparam("b_next"))


class RolledBackAnswer(Exception):
    """Raised inside a write transaction to roll it back whole and answer the call with ``value``: a
    suggest of a client that holds trials (its number reservation undone), an observe repeated by a
    client's retry (its version count undone). The domain function catches it outside the transaction."""

    def __init__(self, value: Any) -> None:
        super().__init__("the transaction was rolled back; the call is answered with what was stored")
        self.value = value


@cache
def _study_change(by_owner: bool, reserve: bool, client: bool) -> Update:
    """``version + 1`` on the study's row, which it locks, returning the row as it is then. With
    ``reserve``: also ``next_trial_number + b_count``, and what a suggest must know of the study's
    trials, from subqueries in the same statement: whether any trial is queued (``has_queued``), held by
    ``b_client`` (``has_held``; always False without ``client``), and the earliest lease of a pending trial
    (``earliest_lease``), so that the queries and the expiry they call for run only when needed."""
    query = update(STUDIES).where(STUDIES.c.id == bindparam("b_study"))
    if by_owner:
        query = query.where(STUDIES.c.owner == bindparam("b_owner"))
    if not reserve:
        return query.values(version=STUDIES.c.version + 1).returning(*STUDIES.c)
    query = query.values(version=STUDIES.c.version + 1,
                         next_trial_number=STUDIES.c.next_trial_number + bindparam("b_count", type_=Integer))
    # The study by its id, not by correlation to the updated row: RETURNING renders columns without
    # their table, so a correlated ``studies.id`` would read as the subquery's own ``trials.id``.
    of_study = TRIALS.c.study_id == bindparam("b_study")
    held = select(TRIALS.c.id).where(
        of_study, TRIALS.c.state == "pending", TRIALS.c.client_id == bindparam("b_client"),
        TRIALS.c.lease_expires_at >= bindparam("b_now")).exists() if client else false()
    return query.returning(
        *STUDIES.c,
        select(TRIALS.c.id).where(of_study, TRIALS.c.state == "queued").exists().label("has_queued"),
        held.label("has_held"),
        select(func.min(TRIALS.c.lease_expires_at)).where(of_study, TRIALS.c.state == "pending")
        .scalar_subquery().label("earliest_lease"),
    )


_TRIAL = select(TRIALS).where(TRIALS.c.id == bindparam("b_trial"), TRIALS.c.study_id == bindparam("b_study"))
_COMPLETE = (
    update(TRIALS)
    .where(TRIALS.c.id == bindparam("b_trial"), TRIALS.c.study_id == bindparam("b_study"),
           TRIALS.c.state.in_(OBSERVABLE_STATES))
    .values(state="completed", values=bindparam("b_values"), noise_sd=bindparam("b_noise"),
            completed_at=bindparam("b_now"), lease_expires_at=None)
    # whether the trial has reports, so that its view reads them only then (most trials have none)
    # (by the bound id, not by correlation: see _study_change)
    .returning(*TRIALS.c, select(REPORTS.c.step).where(REPORTS.c.trial_id == bindparam("b_trial")).exists().label(
        "has_reports"))
)
_REPORTS = (
    select(REPORTS.c.trial_id, REPORTS.c.step, REPORTS.c["values"])
    .where(REPORTS.c.trial_id.in_(bindparam("b_ids", expanding=True)))
    .order_by(REPORTS.c.trial_id, REPORTS.c.step)
)


def count_change(connection: Connection, study_id: str, owner: str | None = None) -> Row:
    """Count a change to the study's trials (``version + 1``) in one ``UPDATE ... RETURNING`` that also
    locks the study's row (the first lock a write transaction on a study takes: study row, then
    trials). Returns the row after the update (every column); NotFoundError when the study does not
    exist or belongs to another ``owner`` (None: any owner)."""
    return _change(connection, _study_change(owner is not None, False, False), study_id, owner, {})


def reserve_numbers(connection: Connection, study_id: str, owner: str | None, count: int, client_id: str | None,
                    now: datetime) -> Row:
    """Like :func:`count_change`, and also reserve the next ``count`` trial numbers (they end at the
    row's ``next_trial_number``); the row also says ``has_queued``, ``has_held`` (live pending trials of
    ``client_id`` at ``now``; False without one) and ``earliest_lease`` (of the pending trials)."""
    extra: dict[str, Any] = {"b_count": count}
    if client_id is not None:
        extra.update(b_client=client_id, b_now=now)
    return _change(connection, _study_change(owner is not None, True, client_id is not None), study_id, owner, extra)


def _change(connection: Connection, statement: Update, study_id: str, owner: str | None,
            extra: dict[str, Any]) -> Row:
    parameters: dict[str, Any] = {"b_study": study_id, **extra}
    if owner is not None:
        parameters["b_owner"] = owner
    row = connection.execute(statement, parameters).one_or_none()
    if row is None:
        raise NotFoundError(f"study '{study_id}' not found")
    return row


def set_next_number(connection: Connection, study_id: str, next_trial_number: int) -> None:
    """Set the study's ``next_trial_number`` (to give back reserved numbers that were not used)."""
    connection.execute(_SET_NEXT, {"b_study": study_id, "b_next": next_trial_number})


def queued_and_held_rows(connection: Connection, study_id: str, client_id: str | None,
                         now: datetime) -> tuple[list[Row], list[Row]]:
    """``(queued, held)``: the study's queued trials and the live pending trials suggested to ``client_id``
    (none without one), each in creation order; one query."""
    if client_id is None:
        return list(connection.execute(_QUEUED, {"b_study": study_id})), []
    rows = list(connection.execute(_QUEUED_OR_HELD, {"b_study": study_id, "b_client": client_id, "b_now": now}))
    return [r for r in rows if r.state == "queued"], [r for r in rows if r.state == "pending"]


def expire_leases(connection: Connection, study_id: str, now: datetime) -> int:
    """Mark pending trials whose lease ran out before ``now`` as expired; how many (the caller counts
    the change in the study's version)."""
    return int(connection.execute(_EXPIRE, {"b_study": study_id, "b_now": now}).rowcount or 0)


def claim(connection: Connection, trial_ids: Sequence[str], client_id: str | None, lease_until: datetime) -> None:
    """Hand queued trials out: pending, held by ``client_id`` until ``lease_until``."""
    if trial_ids:
        connection.execute(_CLAIM, {"b_ids": list(trial_ids), "b_client": client_id, "b_lease": lease_until})


def insert_trials(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert new trials (``rows``: one dict of column values per trial)."""
    if rows:
        connection.execute(_INSERT, rows)


def trial_row(connection: Connection, study_id: str, trial_id: str) -> Row:
    """A trial of the given study; NotFoundError otherwise (a trial of another study is not found)."""
    row = connection.execute(_TRIAL, {"b_trial": trial_id, "b_study": study_id}).one_or_none()
    if row is None:
        raise NotFoundError(f"trial '{trial_id}' not found in study '{study_id}'")
    return row


def complete_open_trial(connection: Connection, study_id: str, trial_id: str, values: dict[str, float],
                        noise_sd: dict[str, float] | None, now: datetime) -> Row | None:
    """Complete the trial when it is in one of ``OBSERVABLE_STATES`` (one ``UPDATE ... RETURNING``, which
    also locks it); its new row (with ``has_reports``), or None when it is in another state or not in
    the study."""
    return connection.execute(_COMPLETE, {"b_trial": trial_id, "b_study": study_id, "b_values": values,
                                          "b_noise": noise_sd, "b_now": now}).one_or_none()


def trial_views(connection: Connection, rows: Iterable[Row]) -> list[Trial]:
    """The views of trial rows, with their intermediate values (one query for all of them; none when
    every row says ``has_reports`` is false)."""
    rows = list(rows)
    if not any(getattr(row, "has_reports", True) for row in rows):
        return [Trial.of(row) for row in rows]
    reported: dict[str, list[tuple[int, dict]]] = {}
    for trial_id, step, values in connection.execute(_REPORTS, {"b_ids": [r.id for r in rows]}):
        reported.setdefault(trial_id, []).append((step, values))
    return [Trial.of(row, reported.get(row.id, ())) for row in rows]
