"""The form in which a run is stored, as Prefect reads it back.

The run's own datetime columns and its state's ``timestamp`` come back in UTC. The state's
details are a JSON document in Prefect's database, so their datetimes keep the offset the
caller gave (a replay echoes ``scheduled_time`` as ``…+02:00``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from flowrun_core.errors import ScheduledTimeOutOfRange
from flowrun_core.models import FlowRun, State

__all__ = ["as_stored", "check_utc_range"]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _all_utc(run: FlowRun) -> bool:
    # Spelled out (no loop): it runs on every create.
    state = run.state
    return (
        run.created.tzinfo is UTC
        and run.updated.tzinfo is UTC
        and (run.expected_start_time is None or run.expected_start_time.tzinfo is UTC)
        and (run.next_scheduled_start_time is None or run.next_scheduled_start_time.tzinfo is UTC)
        and (run.start_time is None or run.start_time.tzinfo is UTC)
        and (run.end_time is None or run.end_time.tzinfo is UTC)
        and (state is None or state.timestamp.tzinfo is UTC)
    )


def as_stored(run: FlowRun) -> FlowRun:
    """The run as a store keeps it: its own datetimes and the state's timestamp in UTC."""
    if _all_utc(run):
        return run
    state: State | None = run.state
    if state is not None:
        state = attrs.evolve(state, timestamp=state.timestamp.astimezone(UTC))
    return attrs.evolve(
        run,
        created=run.created.astimezone(UTC),
        updated=run.updated.astimezone(UTC),
        expected_start_time=_utc(run.expected_start_time),
        next_scheduled_start_time=_utc(run.next_scheduled_start_time),
        start_time=_utc(run.start_time),
        end_time=_utc(run.end_time),
        state=state,
    )


def check_utc_range(run: FlowRun) -> None:
    """Refuse a run whose scheduled time has no UTC equivalent (see :func:`as_stored`).

    Only the scheduled time can be chosen by the caller and stored in a UTC column (as the
    run's expected and next scheduled start times); every other stored time is "now".
    """
    moment = run.next_scheduled_start_time
    if moment is None or moment.tzinfo is UTC:
        return
    try:
        moment.astimezone(UTC)
    except OverflowError:
        msg = (
            f"The scheduled time {moment.isoformat()} is out of range: it has no UTC "
            "equivalent between years 1 and 9999."
        )
        raise ScheduledTimeOutOfRange(msg, moment) from None
