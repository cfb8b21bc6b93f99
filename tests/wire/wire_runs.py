"""A flow run for the response tests: a new run's fields, any of them changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from flowrun_core.models import CreatedBy, FlowRun, State, StateDetails, StateType

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def make_run(**changes: Any) -> FlowRun:
    run_id = UUID(int=1)
    state = State(
        id=UUID(int=2),
        type=StateType.SCHEDULED,
        name="Scheduled",
        timestamp=T0,
        state_details=StateDetails(flow_run_id=run_id, scheduled_time=T0),
    )
    values: dict[str, Any] = {
        "id": run_id,
        "created": T0,
        "updated": T0 + timedelta(milliseconds=3),
        "name": "brave-fox",
        "flow_id": UUID(int=3),
        "state_id": state.id,
        "state": state,
        "state_type": state.type,
        "state_name": state.name,
        "expected_start_time": T0,
        "next_scheduled_start_time": T0,
        "created_by": CreatedBy(id=UUID(int=4), type="AUTOMATION", display_value="A"),
    }
    values.update(changes)
    return FlowRun(**values)
