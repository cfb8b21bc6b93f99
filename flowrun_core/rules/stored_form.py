"""The form in which a run is stored: every datetime in UTC, as Prefect reads it back."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from flowrun_core.models import FlowRun, State, StateDetails

__all__ = ["as_stored"]


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _details_utc(details: StateDetails) -> StateDetails:
    return attrs.evolve(
        details,
        scheduled_time=_utc(details.scheduled_time),
        cache_expiration=_utc(details.cache_expiration),
        pause_timeout=_utc(details.pause_timeout),
    )


def _all_utc(run: FlowRun) -> bool:
    details = None if run.state is None else run.state.state_details
    moments = (
        run.created,
        run.updated,
        run.expected_start_time,
        run.next_scheduled_start_time,
        run.start_time,
        run.end_time,
        None if run.state is None else run.state.timestamp,
        None if details is None else details.scheduled_time,
        None if details is None else details.cache_expiration,
        None if details is None else details.pause_timeout,
    )
    return all(moment is None or moment.tzinfo is UTC for moment in moments)


def as_stored(run: FlowRun) -> FlowRun:
    """The run as a store keeps it: every datetime in UTC (Prefect's later reads are UTC)."""
    if _all_utc(run):
        return run
    state: State | None = run.state
    if state is not None:
        state = attrs.evolve(
            state,
            timestamp=state.timestamp.astimezone(UTC),
            state_details=_details_utc(state.state_details),
        )
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
