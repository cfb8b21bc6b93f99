"""Replay compat scenarios through flowrun-core's wire façade and normalise the answers.

Setup entities are created with the public seeding API (:class:`flowrun_core.seeding.Seeder`)
on a fresh repository per scenario, in the order the compat README §1.1 gives; requests go
through :func:`flowrun_core.wire.handle_create_flow_run`, and the answers are normalised with
``normalise.py`` exactly as Prefect's were.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import normalise as nm  # noqa: E402

from flowrun_core.factories import adjective_animal_slug  # noqa: E402
from flowrun_core.models import Deployment, Flow, FlowRun  # noqa: E402
from flowrun_core.ports import Repository  # noqa: E402
from flowrun_core.seeding import DEFAULT_AGENT_POOL, DeploymentFields, Seeder  # noqa: E402
from flowrun_core.service import FlowRunService  # noqa: E402
from flowrun_core.wire import handle_create_flow_run, lax  # noqa: E402
from flowrun_core.wire.request import decode_create_request  # noqa: E402

JSON = Any


def _deployment_json(dep: Deployment) -> dict[str, JSON]:
    return {
        "id": str(dep.id),
        "flow_id": str(dep.flow_id),
        "version": dep.version,
        "parameters": dep.parameters,
        "tags": list(dep.tags),
        "labels": dep.labels,
        "parameter_openapi_schema": dep.parameter_openapi_schema,
        "enforce_parameter_schema": dep.enforce_parameter_schema,
        "work_pool_name": dep.work_pool_name,
        "work_queue_name": dep.work_queue_name,
        "work_queue_id": None if dep.work_queue_id is None else str(dep.work_queue_id),
        "job_variables": dep.job_variables,
        "infrastructure_document_id": None
        if dep.infrastructure_document_id is None
        else str(dep.infrastructure_document_id),
        "paused": dep.paused,
    }


TASK_KEY_DEFAULT = "oracle-test-task-key"
"""The task key of a setup task run that names none: the oracle's (README §1.1, "a fixed test key")."""

_DEPLOYMENT_KEYS = (
    "parameters",
    "tags",
    "labels",
    "parameter_openapi_schema",
    "enforce_parameter_schema",
    "version",
    "description",
    "work_pool_name",
    "work_queue_name",
    "job_variables",
    "paused",
)
"""Scenario deployment keys passed to ``Seeder.deployment`` as they are."""


class _Setup:
    """Creates a scenario's setup entities and remembers their ids by ref."""

    def __init__(self, repository: Repository, new_name: Callable[[], str]) -> None:
        self.repository = repository
        self.seed = Seeder(repository, new_name=new_name)
        self.ids: dict[str, dict[str, str]] = {kind: {} for kind in nm.ENTITY_KINDS}
        self.flows: dict[str, Flow] = {}
        self.deployments: dict[str, Deployment] = {}
        self.runs: dict[str, FlowRun] = {}
        self.pool_names: list[str] = []

    def _flow(self, ref: str) -> Flow:
        if ref not in self.flows:
            flow = self.seed.flow(ref)
            self.flows[ref] = flow
            self.ids["flow"][ref] = str(flow.id)
        return self.flows[ref]

    def run(self, setup: Mapping[str, JSON]) -> None:
        docs = {}
        for i, doc in enumerate(setup.get("infrastructure_documents", []), start=1):
            ref = doc.get("ref", f"infra{i}")
            created = self.seed.infrastructure_document(doc.get("name", ref), doc.get("data", {}))
            docs[ref] = created.id
            self.ids["infrastructure_document"][ref] = str(created.id)
        for flow in setup.get("flows", []):
            ref = flow.get("ref", flow["name"])
            created = self.seed.flow(
                flow["name"], tags=flow.get("tags", []), labels=flow.get("labels", {})
            )
            self.flows[ref] = created
            self.ids["flow"][ref] = str(created.id)
        for dep in setup.get("deployments", []):
            self._flow(dep["flow"])
        for run in setup.get("flow_runs", []):
            if "flow" in run:
                self._flow(run["flow"])
        for pool in setup.get("work_pools", []):
            created_pool = self.seed.work_pool(
                pool["name"],
                type=pool.get("type", "process"),
                base_job_template=pool.get("base_job_template", {}),
            )
            self.pool_names.append(pool["name"])
            self.ids["work_pool"][pool["name"]] = str(created_pool.id)
            # One call per queue, as the oracle's POSTs: a refused queue leaves the pool and
            # the queues before it.
            for queue_name in pool.get("work_queues", []):
                self.seed.create_work_queue(pool["name"], queue_name)
        for var in setup.get("variables", []):
            created_var = self.seed.variable(
                var["name"], var.get("value"), tags=var.get("tags", [])
            )
            self.ids["variable"][var["name"]] = str(created_var.id)
        for i, dep in enumerate(setup.get("deployments", []), start=1):
            ref = dep.get("ref", dep.get("name", f"deployment{i}"))
            infra = dep.get("infrastructure_document")
            # Only the fields the scenario gives: a second deployment of a flow and name
            # updates the first, keeping what it does not send (Prefect's upsert).
            fields: DeploymentFields = {}
            for key in _DEPLOYMENT_KEYS:
                if key in dep:
                    fields[key] = dep[key]  # type: ignore[literal-required]
            if "parameter_openapi_schema" in dep:
                fields["has_parameter_schema"] = dep["parameter_openapi_schema"] is not None
            if infra is not None:
                fields["infrastructure_document_id"] = docs[infra]
            created_dep = self.seed.deployment(
                self._flow(dep["flow"]), dep.get("name", ref), **fields
            )
            if (
                dep.get("work_queue_name")
                and not dep.get("work_pool_name")
                and DEFAULT_AGENT_POOL not in self.pool_names
            ):
                self.pool_names.append(DEFAULT_AGENT_POOL)
            self.deployments[ref] = created_dep
            self.ids["deployment"][ref] = str(created_dep.id)
        for i, run in enumerate(setup.get("flow_runs", []), start=1):
            ref = run.get("ref", f"existing_run{i}")
            state = run.get("state")
            # The state as POST /flow_runs/ reads it: the endpoint's own state decoding.
            first = None
            if isinstance(state, dict):
                first = decode_create_request(json.dumps({"state": state}).encode()).state
            created_run = self.seed.flow_run(
                flow=self.flows[run["flow"]] if "flow" in run else None,
                deployment=self.deployments[run["deployment"]] if "deployment" in run else None,
                name=run.get("name"),
                parameters=run.get("parameters", {}),
                tags=run.get("tags", []),
                idempotency_key=run.get("idempotency_key"),
                state=first,
                labels=run.get("labels", {}),
            )
            self.runs[ref] = created_run
            self.ids["flow_run"][ref] = str(created_run.id)
        for i, task in enumerate(setup.get("task_runs", []), start=1):
            ref = task.get("ref", f"task_run{i}")
            created_task = self.seed.task_run(
                flow_run=self.runs[task["flow_run"]] if "flow_run" in task else None,
                name=task.get("name", ref),
                task_key=task.get("task_key", TASK_KEY_DEFAULT),
                dynamic_key=task.get("dynamic_key", "0"),
            )
            self.ids["task_run"][ref] = str(created_task.id)

    def pools_after(self) -> list[nm.WorkPoolSnapshot]:
        snapshots = []
        for name in self.pool_names:
            pool = self.repository.get_work_pool_by_name(name)
            if pool is None:
                continue
            queues = {q.name: str(q.id) for q in self.repository.list_work_queues(pool.id)}
            snapshots.append(nm.WorkPoolSnapshot(name=name, id=str(pool.id), queues=queues))
        return snapshots


def _distinct_slugs() -> Callable[[], str]:
    """Prefect's adjective-animal slugs, never the same one twice in a scenario.

    The recorded results number generated names by first appearance (``<slug:N>``), so two
    runs that happened to draw the same slug would read as one; with hundreds of runs per
    test session that happens now and then.
    """
    seen: set[str] = set()

    def draw() -> str:
        name = adjective_animal_slug()
        while name in seen:
            name = adjective_animal_slug()
        seen.add(name)
        return name

    return draw


TIME_OF_DAY_SCENARIOS: Final[Mapping[str, int]] = {
    # "00:00:00" and "T12:00:00", recorded after noon UTC: before the request.
    "datetime_b4_scheduled_time_misc": -1,
    # "17:30" in several spellings, recorded at 12:43 UTC: after the request.
    "state_b24_time_alone_forms": 1,
}
"""Scenarios with a time and no date, which Prefect reads as today's (UTC).

Whether such a time is before or after the request depends on the hour of the replay, so
these are replayed with "today" moved by the given number of days: each time then lands on
the side of the request where the recording saw it, whatever the hour. Everything else in
their answers is compared as usual. ``test_replay.py`` checks that this list is complete.
"""


@contextmanager
def _today_moved(days: int) -> Iterator[None]:
    if not days:
        yield
        return
    real = lax._today
    lax._today = lambda: real() + timedelta(days=days)  # type: ignore[assignment]
    try:
        yield
    finally:
        lax._today = real  # type: ignore[assignment]


def replay_scenario(
    scenario: Mapping[str, JSON], make_repository: Callable[[], Repository]
) -> dict[str, JSON]:
    """Replay one scenario on a fresh repository and return its normalised result."""
    with _today_moved(TIME_OF_DAY_SCENARIOS.get(str(scenario.get("name")), 0)):
        return _replay(scenario, make_repository)


def _replay(
    scenario: Mapping[str, JSON], make_repository: Callable[[], Repository]
) -> dict[str, JSON]:
    repository = make_repository()
    new_name = _distinct_slugs()
    try:
        setup = _Setup(repository, new_name)
        setup_error = None
        try:
            setup.run(scenario.get("setup", {}))
        except Exception as exc:
            setup_error = f"{type(exc).__name__}: {exc}"
        service = FlowRunService(repository, new_name=new_name)
        responses: list[nm.RawResponse] = []
        if setup_error is None:
            ids = nm.flat_ids(setup.ids)
            for request in scenario.get("requests", []):
                http = nm.build_http_request(request, ids)
                deployment_id = http.path.split("/")[2]
                # Prefect takes milliseconds per request; keep stored instants of earlier
                # requests more than the normaliser's 1 ms tolerance before this one.
                time.sleep(0.002)
                t_before = datetime.now(UTC)
                answer = handle_create_flow_run(service, deployment_id, http.content, http.headers)
                t_after = datetime.now(UTC)
                responses.append(
                    nm.RawResponse(
                        request=request,
                        status_code=answer.status,
                        content_type=answer.content_type,
                        body_text=answer.body.decode("utf-8"),
                        t_before=t_before,
                        t_after=t_after,
                    )
                )
        return nm.normalise_result(
            scenario,
            setup.ids,
            {ref: _deployment_json(dep) for ref, dep in setup.deployments.items()},
            responses,
            pools_after=setup.pools_after(),
            implementation="flowrun-core",
            version="0",
            setup_error=setup_error,
            setup_traceback=None if setup_error is None else traceback.format_exc(),
        )
    finally:
        repository.close()


def scenario_pairs(root: Path) -> list[tuple[Path, Path]]:
    """``(scenario, result)`` file pairs under ``root/scenarios`` and ``root/results``."""
    pairs = []
    for scenario in sorted((root / "scenarios").glob("*.json")):
        result = root / "results" / scenario.name
        if result.exists():
            pairs.append((scenario, result))
    return pairs
