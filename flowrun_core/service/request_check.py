"""The service's boundary check: a request built in Python holds only what a body can hold.

The wire decoder only ever builds requests from JSON, but a Python caller can put anything
in an attrs field: a set or a ``datetime`` among the parameters, a string as ``tags``, a
dict that contains itself. Unchecked, the adapters then disagree (the in-memory one keeps
the set, SQLite fails to encode it with a bare ``TypeError``), a string of tags becomes one
tag per character, and a cyclic tree makes hydration walk forever. So every entry point of
:class:`~flowrun_core.service.FlowRunService` checks its request first, and a wrong type is
a ``TypeError`` that names the field and the path inside it, before anything is read or
written.

JSON values are ``dict`` (string keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and
``None``, and their subclasses; a tuple is refused (JSON arrays come back as lists, so a
tuple would not read back as it went in). ``parameters``, ``context`` or ``job_variables``
nested more than :data:`~flowrun_core.rules.hydration.MAX_JSON_DEPTH` levels deep (or a
state's ``data``) is no type error: :func:`too_deep` tells the steps, which raise
:class:`~flowrun_core.errors.NestedTooDeep` (the item the wire's 422 lists) where Prefect
fails on it, after its rules (it stores such a value, then cannot answer).
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

from flowrun_core.errors import NestedTooDeep
from flowrun_core.json_types import SCALAR_TYPES
from flowrun_core.models import (
    DeploymentFlowRunCreate,
    FlowRunPolicy,
    StateCreate,
    StateDetails,
    StateType,
)
from flowrun_core.rules.hydration import MAX_JSON_DEPTH, json_depth_exceeds, nested_too_deep

__all__ = ["check_deployment_id", "check_request", "too_deep"]

_SCALARS: Final = (str, int, float, type(None))
"""JSON's scalar types (``bool`` is an ``int``), matched with ``isinstance``."""

_LABEL_VALUES: Final = (str, int, float)
"""A label's value: a string, a number or a boolean."""


def check_deployment_id(deployment_id: object) -> None:
    """``TypeError`` unless ``deployment_id`` is a :class:`~uuid.UUID`."""
    if not isinstance(deployment_id, UUID):
        raise TypeError(
            f"deployment_id must be a uuid.UUID, not {type(deployment_id).__name__} "
            f"{deployment_id!r} (parse text with uuid.UUID(...))"
        )


def check_request(request: object, where: str = "request") -> bool:
    """``TypeError`` unless ``request`` is a :class:`DeploymentFlowRunCreate` a body could make.

    Returns whether it is flat (its free-form JSON fields hold only scalars, and it has no
    state): such a request cannot nest too deep, so :func:`too_deep` need not look.
    """
    if type(request) is DeploymentFlowRunCreate and _usual(request):
        return True  # the usual request, checked at a glance
    if not isinstance(request, DeploymentFlowRunCreate):
        raise TypeError(f"{where} must be a DeploymentFlowRunCreate, not {type(request).__name__}")
    _optional(request.name, str, where, "name")
    _optional(request.idempotency_key, str, where, "idempotency_key")
    _optional(request.work_queue_name, str, where, "work_queue_name")
    _optional(request.enforce_parameter_schema, bool, where, "enforce_parameter_schema")
    _optional(request.infrastructure_document_id, UUID, where, "infrastructure_document_id")
    _optional(request.parent_task_run_id, UUID, where, "parent_task_run_id")
    tags: object = request.tags
    if not isinstance(tags, tuple | list) or not all(isinstance(tag, str) for tag in tags):
        raise TypeError(f"{where}.tags must be a tuple or list of strings, not {tags!r}")
    for name in _FREE_FIELDS:
        _json_object(getattr(request, name), name, where)
    if request.labels is not None:
        _labels(request.labels, f"{where}.labels")
    if not isinstance(request.empirical_policy, FlowRunPolicy):
        raise TypeError(
            f"{where}.empirical_policy must be a FlowRunPolicy, "
            f"not {type(request.empirical_policy).__name__}"
        )
    if request.state is not None:
        _state(request.state, f"{where}.state")
    return False


def _usual(request: DeploymentFlowRunCreate) -> bool:
    """Whether ``request`` is plainly valid: exact types, flat JSON, no labels or state.

    Costs a fraction of the full check, which runs otherwise (and may still pass).
    """
    name = request.name
    key = request.idempotency_key
    queue = request.work_queue_name
    flag: object = request.enforce_parameter_schema
    document = request.infrastructure_document_id
    parent = request.parent_task_run_id
    tags = request.tags
    job_variables = request.job_variables
    if (
        request.state is not None
        or request.labels is not None
        or type(request.empirical_policy) is not FlowRunPolicy
        or (name is not None and type(name) is not str)
        or (key is not None and type(key) is not str)
        or (queue is not None and type(queue) is not str)
        or (flag is not None and type(flag) is not bool)
        or (document is not None and type(document) is not UUID)
        or (parent is not None and type(parent) is not UUID)
        or type(tags) is not tuple
    ):
        return False
    for tag in tags:
        if type(tag) is not str:
            return False
    return (
        _flat(request.parameters)
        and _flat(request.context)
        and (job_variables is None or _flat(job_variables))
    )


def _flat(value: object) -> bool:
    """Whether ``value`` is a ``dict`` of string keys to JSON scalars of their exact types."""
    if type(value) is not dict:
        return False
    for key, child in value.items():
        if type(key) is not str or type(child) not in SCALAR_TYPES:
            return False
    return True


def too_deep(request: DeploymentFlowRunCreate) -> NestedTooDeep | None:
    """The refusal of a checked request's free-form JSON nested past ``MAX_JSON_DEPTH``.

    ``None`` for the usual request. Prefect stores such a value, then cannot answer (500);
    the service raises this where Prefect fails (see ``CreateSteps.check_event``), as the
    wire answers such a body with a 422.
    """
    state = request.state
    job_variables = request.job_variables
    if (
        state is None
        and _flat(request.parameters)
        and _flat(request.context)
        and (job_variables is None or _flat(job_variables))
    ):
        return None
    deep: list[tuple[str | int, ...]] = [
        ("body", name) for name in _FREE_FIELDS if _nests_deep(getattr(request, name))
    ]
    if state is not None and _nests_deep(state.data):
        deep.append(("body", "state", "data"))
    return NestedTooDeep([nested_too_deep(loc) for loc in deep]) if deep else None


_FREE_FIELDS: Final = ("parameters", "context", "job_variables")


def _nests_deep(value: object) -> bool:
    if not isinstance(value, dict | list):
        return False
    return json_depth_exceeds(value, MAX_JSON_DEPTH)


def _optional(value: object, kind: type, where: str, field: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise TypeError(
            f"{where}.{field} must be {kind.__name__} or None, not {type(value).__name__} {value!r}"
        )


def _state(state: object, where: str) -> None:
    if not isinstance(state, StateCreate):
        raise TypeError(f"{where} must be a StateCreate, not {type(state).__name__}")
    if not isinstance(state.type, StateType):
        raise TypeError(f"{where}.type must be a StateType, not {state.type!r}")
    _optional(state.name, str, where, "name")
    _optional(state.message, str, where, "message")
    if not isinstance(state.state_details, StateDetails):
        raise TypeError(
            f"{where}.state_details must be a StateDetails, "
            f"not {type(state.state_details).__name__}"
        )
    _json(state.data, f"{where}.data")


def _labels(labels: object, where: str) -> None:
    if not isinstance(labels, dict):
        raise TypeError(f"{where} must be a dict or None, not {type(labels).__name__}")
    for key, value in labels.items():
        if not isinstance(key, str):
            raise TypeError(f"{where} has a key that is not a string: {key!r}")
        if not isinstance(value, _LABEL_VALUES):
            raise TypeError(
                f"{where}[{key!r}] must be a string, number or boolean, not {type(value).__name__}"
            )


def _json_object(value: object, name: str, where: str) -> None:
    """Check the free-form field ``name``: an object of JSON values (``job_variables``: or None)."""
    if value is None and name == "job_variables":
        return
    if not isinstance(value, dict):
        raise TypeError(f"{where}.{name} must be a dict, not {type(value).__name__}")
    # Most parameters are flat: a scalar per key needs no walk.
    for key, child in value.items():
        if type(key) is not str or not isinstance(child, _SCALARS):
            _json(value, f"{where}.{name}")
            return


def _json(root: object, where: str) -> None:
    """Walk ``root`` with an explicit stack (any depth); raise at the first non-JSON value."""
    # Each entry: (value, parent entry, key in parent); the path is rebuilt only to report.
    stack: list[tuple[Any, Any, Any]] = [(root, None, None)]
    open_containers: set[int] = set()
    leave: Final = _LEAVE
    while stack:
        entry = stack.pop()
        value = entry[0]
        if value is leave:
            open_containers.discard(entry[2])
            continue
        if isinstance(value, _SCALARS):
            continue
        if isinstance(value, dict | list):
            ident = id(value)
            if ident in open_containers:
                raise TypeError(f"{_path(where, entry)} contains itself; JSON cannot hold a cycle")
            open_containers.add(ident)
            stack.append((leave, None, ident))
            if isinstance(value, dict):
                for key, child in value.items():
                    if not isinstance(key, str):
                        raise TypeError(
                            f"{_path(where, entry)} has a key that is not a string: {key!r}"
                        )
                    stack.append((child, entry, key))
            else:
                stack.extend((child, entry, index) for index, child in enumerate(value))
            continue
        hint = " (use a list)" if isinstance(value, tuple) else ""
        raise TypeError(
            f"{_path(where, entry)} has type {type(value).__name__}, which JSON cannot hold{hint}"
        )


_LEAVE: Final = object()


def _path(where: str, entry: tuple[Any, Any, Any]) -> str:
    keys: list[Any] = []
    while entry[1] is not None:
        keys.append(entry[2])
        entry = entry[1]
    return where + "".join(f"[{key!r}]" for key in reversed(keys))
