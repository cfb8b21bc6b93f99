"""The service's boundary check (``flowrun_core.service.request_check``).

A request built in Python must hold only what a request body can: before the check, a set
among the parameters was stored by the in-memory adapter and crashed SQLite's encoder, a
string of tags became one tag per character, a ``str`` deployment id was found by SQLite
and not by memory, and a parameter tree that contains itself made hydration loop forever.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from flowrun_adapters import open_repository
from hypothesis import example, given, settings
from hypothesis import strategies as st

from flowrun_core.errors import DeploymentNotFound, NestedTooDeep
from flowrun_core.models import (
    DeploymentFlowRunCreate,
    FlowRunPolicy,
    StateCreate,
    StateType,
)
from flowrun_core.options import ServiceOptions
from flowrun_core.ports import Repository
from flowrun_core.rules.hydration import MAX_JSON_DEPTH, json_depth_exceeds
from flowrun_core.seeding import Seeder
from flowrun_core.service import FlowRunService
from flowrun_core.service.request_check import check_deployment_id, check_request, too_deep
from flowrun_core.testing.strategies import flow_run_create_bodies, json_objects, json_values
from flowrun_core.wire import handle_create_flow_run
from flowrun_core.wire.request import decode_create_request


class Color(enum.StrEnum):
    RED = "red"


@pytest.fixture(params=["memory:", "sqlite://"])
def world(request: pytest.FixtureRequest) -> Iterator[tuple[Repository, FlowRunService, uuid.UUID]]:
    repo = open_repository(request.param)
    seeder = Seeder(repo)
    deployment = seeder.deployment(seeder.flow("f"), "d")
    yield repo, FlowRunService(repo), deployment.id
    repo.close()


def _cycle() -> dict[str, Any]:
    tree: dict[str, Any] = {"a": [1, {}]}
    tree["a"][1]["back"] = tree
    return tree


def _request(**fields: Any) -> DeploymentFlowRunCreate:
    """A request with fields set past their declared types (what a Python caller can do)."""
    return DeploymentFlowRunCreate(**fields)


BAD_REQUESTS: list[tuple[DeploymentFlowRunCreate | Any, str]] = [
    ({"tags": ["a"]}, "request must be a DeploymentFlowRunCreate, not dict"),
    (_request(tags="abc"), "request.tags must be a tuple or list of strings, not 'abc'"),
    (_request(tags=("a", 1)), "request.tags must be a tuple or list of strings, not ('a', 1)"),
    (_request(name=5), "request.name must be str or None, not int 5"),
    (_request(idempotency_key=b"k"), "request.idempotency_key must be str or None, not bytes b'k'"),
    (_request(work_queue_name=1.5), "request.work_queue_name must be str or None, not float 1.5"),
    (
        _request(enforce_parameter_schema=1),
        "request.enforce_parameter_schema must be bool or None, not int 1",
    ),
    (
        _request(parent_task_run_id="0" * 32),
        f"request.parent_task_run_id must be UUID or None, not str {'0' * 32!r}",
    ),
    (_request(parameters=[1]), "request.parameters must be a dict, not list"),
    (_request(context=None), "request.context must be a dict, not NoneType"),
    (_request(job_variables="{}"), "request.job_variables must be a dict, not str"),
    (
        _request(parameters={"when": {"at": {1, 2}}}),
        "request.parameters['when']['at'] has type set, which JSON cannot hold",
    ),
    (
        _request(parameters={"xs": [0, (1, 2)]}),
        "request.parameters['xs'][1] has type tuple, which JSON cannot hold (use a list)",
    ),
    (
        _request(context={"k": object()}),
        "request.context['k'] has type object, which JSON cannot hold",
    ),
    (
        _request(job_variables={"env": {1: "x"}}),
        "request.job_variables['env'] has a key that is not a string: 1",
    ),
    (
        _request(parameters={"tree": _cycle()}),
        "request.parameters['tree']['a'][1]['back'] contains itself; JSON cannot hold a cycle",
    ),
    (_request(labels=[("a", "b")]), "request.labels must be a dict or None, not list"),
    (
        _request(labels={"a": None}),
        "request.labels['a'] must be a string, number or boolean, not NoneType",
    ),
    (_request(labels={1: "a"}), "request.labels has a key that is not a string: 1"),
    (_request(empirical_policy={}), "request.empirical_policy must be a FlowRunPolicy, not dict"),
    (_request(state="SCHEDULED"), "request.state must be a StateCreate, not str"),
    (
        _request(state=StateCreate(type="RUNNING")),  # type: ignore[arg-type]
        "request.state.type must be a StateType, not 'RUNNING'",
    ),
    (
        _request(state=StateCreate(type=StateType.RUNNING, data={"s": {1}})),
        "request.state.data['s'] has type set, which JSON cannot hold",
    ),
]


@pytest.mark.parametrize(("request_", "message"), BAD_REQUESTS)
def test_a_request_no_body_could_make_is_a_type_error_before_anything_is_written(
    world: tuple[Repository, FlowRunService, uuid.UUID], request_: Any, message: str
) -> None:
    repo, service, deployment_id = world
    calls: list[Callable[[], object]] = [
        lambda: service.create_flow_run_from_deployment(deployment_id, request_),
        lambda: service.plan(deployment_id, request_),
    ]
    for call in calls:
        with pytest.raises(TypeError) as caught:
            call()
        assert str(caught.value) == message
    with pytest.raises(TypeError) as in_bulk:
        service.create_flow_runs_from_deployment(
            deployment_id, [DeploymentFlowRunCreate(), request_]
        )
    assert str(in_bulk.value) == message.replace("request", "requests[1]", 1)
    assert repo.count_flow_runs() == 0


@pytest.mark.parametrize(
    ("deployment_id", "message"),
    [
        ("6b0c5a4e-0000-4000-8000-000000000000", "not str '6b0c5a4e-0000-4000-8000-000000000000'"),
        (5, "not int 5"),
        (None, "not NoneType None"),
    ],
)
def test_a_deployment_id_must_be_a_uuid_on_every_adapter(
    world: tuple[Repository, FlowRunService, uuid.UUID], deployment_id: Any, message: str
) -> None:
    """Before, SQLite found a deployment by its id as text; memory answered not found."""
    repo, service, real_id = world
    for text_id in (str(real_id), deployment_id):
        for call in (
            service.create_flow_run_from_deployment,
            service.plan,
            lambda d: service.create_flow_runs_from_deployment(d, []),
        ):
            with pytest.raises(TypeError, match=r"^deployment_id must be a uuid\.UUID, not "):
                call(text_id)
    with pytest.raises(TypeError) as caught:
        check_deployment_id(deployment_id)
    assert str(caught.value) == (
        f"deployment_id must be a uuid.UUID, {message} (parse text with uuid.UUID(...))"
    )
    assert repo.count_flow_runs() == 0


@pytest.mark.parametrize("requests", ["abc", b"abc", {"a": 1}, 5])
def test_bulk_requests_must_be_a_sequence(
    world: tuple[Repository, FlowRunService, uuid.UUID], requests: Any
) -> None:
    _, service, deployment_id = world
    with pytest.raises(TypeError, match=r"^requests must be a sequence of DeploymentFlowRunCreate"):
        service.create_flow_runs_from_deployment(deployment_id, requests)


def test_what_json_can_hold_is_accepted_on_every_adapter(
    world: tuple[Repository, FlowRunService, uuid.UUID],
) -> None:
    """Subclasses of JSON's types, shared subtrees (not cycles), nan, big integers."""
    repo, service, deployment_id = world
    shared = [1, 2]
    request = DeploymentFlowRunCreate(
        parameters={
            "color": Color.RED,
            "ordered": OrderedDict(b=1),
            "left": shared,
            "right": shared,
            "big": 10**30,
            "nan": float("nan"),
        },
        tags=["a", "b"],
        labels={"flag": True, "n": 1.5},
        job_variables=None,
    )
    made = service.create_flow_run_from_deployment(deployment_id, request)
    assert made.created
    stored = repo.get_flow_run(made.value.id)
    assert stored is not None
    assert stored.parameters["left"] == stored.parameters["right"] == [1, 2]
    assert stored.tags == ("a", "b")


def _nested(levels: int) -> Any:
    """A value ``levels`` deep, scalars counted (``1`` is 1, ``[1]`` is 2)."""
    value: Any = 1
    for _ in range(levels - 1):
        value = [value]
    return value


@pytest.mark.parametrize("field", ["parameters", "context", "job_variables"])
def test_values_deeper_than_prefect_can_answer_are_refused_as_the_wire_refuses_them(
    world: tuple[Repository, FlowRunService, uuid.UUID], field: str
) -> None:
    """Before, memory stored them and SQLite's encoder raised RecursionError."""
    repo, service, deployment_id = world
    deepest = {"v": _nested(MAX_JSON_DEPTH - 1)}
    assert not json_depth_exceeds(deepest, MAX_JSON_DEPTH)
    made = service.create_flow_run_from_deployment(
        deployment_id, DeploymentFlowRunCreate(**{field: deepest})
    )
    assert made.created
    for deep_value in ({"v": _nested(MAX_JSON_DEPTH)}, {"v": _nested(100_000)}):
        request = DeploymentFlowRunCreate(**{field: deep_value})
        for call in (service.create_flow_run_from_deployment, service.plan):
            with pytest.raises(NestedTooDeep) as caught:
                call(deployment_id, request)
        bulk = service.create_flow_runs_from_deployment(deployment_id, [request])
        assert isinstance(bulk.outcomes[0].error, NestedTooDeep)
        if json_depth_exceeds(deep_value, MAX_JSON_DEPTH + 10):
            continue  # json.dumps cannot write the 100,000-level body to post it
        # The same items as the wire's 422 for the same body.
        body = json.dumps({field: deep_value}).encode()
        answer = handle_create_flow_run(service, str(deployment_id), body)
        assert answer.status == 422
        wire = json.loads(answer.body)["exception_detail"]
        assert [
            {"type": d.type, "loc": list(d.loc), "msg": d.msg} for d in caught.value.details
        ] == [{"type": d["type"], "loc": d["loc"], "msg": d["msg"]} for d in wire]
    assert repo.count_flow_runs() == 1


def test_a_deep_value_is_refused_after_the_rules_and_the_key_replays(
    world: tuple[Repository, FlowRunService, uuid.UUID],
) -> None:
    """Where Prefect fails on it: after a missing deployment, and not on a replay."""
    repo, service, deployment_id = world
    deep = {"v": _nested(MAX_JSON_DEPTH)}
    with pytest.raises(DeploymentNotFound):
        service.create_flow_run_from_deployment(uuid.uuid4(), DeploymentFlowRunCreate(context=deep))
    first = service.create_flow_run_from_deployment(
        deployment_id, DeploymentFlowRunCreate(idempotency_key="k")
    )
    again = service.create_flow_run_from_deployment(
        deployment_id, DeploymentFlowRunCreate(idempotency_key="k", context=deep)
    )
    assert (again.created, again.value.id) == (False, first.value.id)
    assert repo.count_flow_runs() == 1


def test_a_deep_state_data_is_refused() -> None:
    repo = open_repository("sqlite://")
    seeder = Seeder(repo)
    deployment = seeder.deployment(seeder.flow("f"), "d")
    state = StateCreate(type=StateType.PENDING, data=_nested(5000))
    with pytest.raises(NestedTooDeep) as caught:
        FlowRunService(repo).create_flow_run_from_deployment(
            deployment.id, DeploymentFlowRunCreate(state=state)
        )
    assert caught.value.details[0].loc == ("body", "state", "data")
    assert repo.count_flow_runs() == 0
    repo.close()


@settings(max_examples=200)
@given(flow_run_create_bodies(parameters=json_objects()))
def test_every_request_the_wire_decodes_passes_the_check(body: dict[str, Any]) -> None:
    check_request(decode_create_request(json.dumps(body).encode()))


_NOT_JSON = st.sampled_from([{1}, (1,), b"x", object(), 1j, frozenset()])


@st.composite
def _with_one_bad_leaf(draw: st.DrawFn) -> tuple[dict[str, Any], list[str | int]]:
    """A JSON object with one value replaced by a non-JSON one, and the path to it."""
    tree: dict[str, Any] = draw(json_objects().filter(bool))
    path: list[str | int] = []
    node: Any = tree
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys))
        path.append(key)
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        node[key] = draw(_NOT_JSON)
        return tree, path


@given(_with_one_bad_leaf(), st.sampled_from(["parameters", "context", "job_variables"]))
def test_one_non_json_value_anywhere_is_named_by_its_path(
    case: tuple[dict[str, Any], list[str | int]], field: str
) -> None:
    tree, path = case
    with pytest.raises(TypeError) as caught:
        check_request(DeploymentFlowRunCreate(**{field: tree}))
    where = f"request.{field}" + "".join(f"[{key!r}]" for key in path)
    assert str(caught.value).startswith(f"{where} has type ")


@given(json_values())
def test_state_data_of_any_json_passes(data: Any) -> None:
    check_request(DeploymentFlowRunCreate(state=StateCreate(type=StateType.PENDING, data=data)))


def test_the_policy_and_a_default_request_pass() -> None:
    check_request(DeploymentFlowRunCreate())
    check_request(
        attrs.evolve(DeploymentFlowRunCreate(), empirical_policy=FlowRunPolicy(retries=2))
    )


def test_strict_idempotency_refuses_a_deep_request_before_fingerprinting_it() -> None:
    """Before, canonical JSON of a 100,000-level request raised RecursionError."""
    repo = open_repository("memory:")
    seeder = Seeder(repo)
    deployment = seeder.deployment(seeder.flow("f"), "d")
    service = FlowRunService(repo, options=ServiceOptions(idempotency="strict"))
    for field in ("parameters", "context", "job_variables"):
        request = DeploymentFlowRunCreate(idempotency_key="k", **{field: {"v": _nested(100_000)}})
        for call in (service.create_flow_run_from_deployment, service.plan):
            with pytest.raises(NestedTooDeep):
                call(deployment.id, request)
    assert repo.count_flow_runs() == 0


_deep_values = st.integers(1, 3).flatmap(
    lambda width: st.integers(MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH + 3).map(
        lambda levels: {f"k{i}": _nested(levels) for i in range(width)}
    )
)
_free_values = json_objects() | _deep_values | st.just({})


@settings(max_examples=300)
@example(parameters={}, context={"k": _nested(300)}, job_variables=None, state=None)
@example(parameters={"k": _nested(300)}, context={}, job_variables={}, state=None)
@example(parameters={}, context={}, job_variables={"k": _nested(300)}, state=None)
@given(
    parameters=_free_values,
    context=_free_values,
    job_variables=st.none() | _free_values,
    state=st.none()
    | json_values().map(lambda data: StateCreate(type=StateType.PENDING, data=data)),
)
def test_a_request_the_check_calls_flat_is_never_too_deep(
    parameters: dict[str, Any],
    context: dict[str, Any],
    job_variables: dict[str, Any] | None,
    state: StateCreate | None,
) -> None:
    """The steps skip the depth walk when the check says flat: that must be sound."""
    request = DeploymentFlowRunCreate(
        parameters=parameters, context=context, job_variables=job_variables, state=state
    )
    flat = check_request(request)
    deep = too_deep(request)
    if flat:
        assert deep is None
    expected = [
        ("body", name)
        for name, value in (
            ("parameters", parameters),
            ("context", context),
            ("job_variables", job_variables),
        )
        if value is not None and json_depth_exceeds(value, MAX_JSON_DEPTH)
    ]
    assert ([d.loc for d in deep.details] if deep else []) == expected
