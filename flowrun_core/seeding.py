"""The public seeding API: register the entities a run is created from, as Prefect would.

:class:`Seeder` applies Prefect's creation-time defaults through the storage port, so the
library can be used on its own (without a Prefect server) and tests seed exactly what
Prefect would have stored:

* a work pool is created with a ``default`` queue at priority 1;
* a deployment's labels are the flow's, then ``prefect.flow.id``, then its own;
* a deployment's queue is resolved as Prefect does (pool and queue, pool only, queue only
  in ``default-agent-pool``, or none);
* a second deployment of a flow and name updates the first in place, as Prefect's
  ``POST /deployments/`` does;
* a pre-existing run without a state gets a PENDING one;
* an entity Prefect's creation route refuses is refused
  (:class:`~flowrun_core.errors.CreationRefused`), and nothing is written.

Every method writes inside one unit of work and returns the stored value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypedDict, Unpack
from uuid import UUID

import attrs

from flowrun_core.errors import (
    CircularSchemaRef,
    DuplicateEntity,
    InvalidEntity,
    InvalidJobVariablesSchema,
    JobVariablesInvalid,
    WorkPoolNotFound,
)
from flowrun_core.factories import (
    adjective_animal_slug,
    later_than,
    new_uuid,
    state_id_factory,
    utc_now,
)
from flowrun_core.json_types import JSON
from flowrun_core.models import (
    Deployment,
    Flow,
    FlowRun,
    FlowRunPolicy,
    InfrastructureDocument,
    LabelValue,
    StateCreate,
    StateType,
    TaskRun,
    Variable,
    WorkPool,
    WorkQueue,
)
from flowrun_core.ports import (
    Clock,
    CreationLookups,
    DeploymentUpdates,
    IdFactory,
    NameFactory,
    Repository,
)
from flowrun_core.rules.booleans import NotABoolean, lax_bool
from flowrun_core.rules.creation import (
    check_block_document_name,
    check_deployment_name,
    check_enforced_parameters,
    check_labels,
    check_name,
    check_object,
    check_tags,
    check_text,
    check_variable,
    check_work_pool,
)
from flowrun_core.rules.hydration import MAX_JSON_DEPTH, json_depth_exceeds
from flowrun_core.rules.job_variables import validate_job_variables
from flowrun_core.rules.state import (
    apply_initial_state,
    initial_state,
    with_default_scheduled_time,
)
from flowrun_core.rules.stored_form import as_stored
from flowrun_core.rules.tags_labels import FLOW_ID_LABEL, deployment_labels, run_labels
from flowrun_core.rules.work_queue import lowest_free_priority

__all__ = ["DEFAULT_AGENT_POOL", "DEFAULT_QUEUE", "DeploymentFields", "Seeder"]

DEFAULT_QUEUE = "default"
"""The name of the queue every work pool is created with."""

DEFAULT_AGENT_POOL = "default-agent-pool"
"""The pool Prefect puts a deployment's queue in when the deployment names no pool."""


class DeploymentFields(TypedDict, total=False):
    """The fields :meth:`Seeder.deployment` takes, each optional (Prefect's ``DeploymentCreate``).

    The default a new deployment takes for a field not given is in brackets.
    """

    parameters: Mapping[str, JSON]
    """Default parameter values [``{}``]; ``None`` is refused, as Prefect refuses ``null``."""
    tags: Iterable[str]
    """Stored as given, duplicates included [none]."""
    labels: Mapping[str, LabelValue] | None
    """The deployment's own labels, stored after the flow's and ``prefect.flow.id`` [none]."""
    parameter_openapi_schema: Mapping[str, JSON] | None
    """[the empty schema ``{}``]; an explicit ``{}`` is stored as
    ``{"type": "object", "properties": {}}``, as Prefect stores it."""
    has_parameter_schema: bool
    """``False`` stores the deployment with no schema (``null``) [``True``]."""
    enforce_parameter_schema: bool
    """[``True``]"""
    version: str | None
    """[``None``]"""
    description: str | None
    """[``None``]"""
    work_pool_name: str | None
    """The pool whose queue the deployment uses, which must exist [none]."""
    work_queue_name: str | None
    """Resolved as Prefect does: in the pool, or with no pool in ``default-agent-pool``
    (see :meth:`Seeder.deployment`) [the pool's ``default`` queue, or none]."""
    job_variables: Mapping[str, JSON]
    """[``{}``]; ``None`` is refused, as Prefect refuses ``null``."""
    paused: bool
    """[``False``]"""
    infrastructure_document_id: UUID | None
    """[``None``]"""


_NO_PARAMETERS: Final[Mapping[str, JSON]] = MappingProxyType({})

_PLAIN_DEFAULTS: Final[dict[str, Any]] = {
    "enforce_parameter_schema": True,
    "version": None,
    "description": None,
    "paused": False,
    "infrastructure_document_id": None,
}
"""Deployment fields stored exactly as given, with the default a new deployment takes."""


def _check_deployment_types(fields: DeploymentFields) -> None:
    """Refuse deployment fields of a type Prefect's ``DeploymentCreate`` refuses."""
    for key in ("parameters", "parameter_openapi_schema", "job_variables"):
        check_object("deployment", key, fields.get(key))
    for key in ("parameters", "job_variables"):
        if key in fields and fields[key] is None:  # type: ignore[literal-required]
            raise InvalidEntity(
                f"deployment {key} must be an object, not null", entity="deployment"
            )
    for key in ("version", "description", "work_pool_name", "work_queue_name"):
        check_text("deployment", key, fields.get(key))
    tags = fields.get("tags", ())
    if isinstance(tags, str):
        raise InvalidEntity(
            "deployment tags must be a list of strings, not str", entity="deployment"
        )
    check_tags("deployment", tags)
    check_labels("deployment", fields.get("labels"))
    for key in _FLAGS:
        if key in fields:
            _flag(fields[key])  # type: ignore[literal-required]


_FLAGS: Final = ("enforce_parameter_schema", "paused")
"""Deployment fields Prefect reads as lax booleans (``"no"``, ``0`` and ``"yes"`` included)."""


def _check_answerable(deployment: Deployment) -> None:
    """``InvalidEntity`` for ``parameters`` or ``job_variables`` nested past 256 levels.

    Prefect 3.9.1 stores such a deployment, then cannot serialize its answer (500; observed:
    256 levels 201, 257 levels 500). Checked last, just before the write, as Prefect fails
    only after every other check has passed.
    """
    for key, value in (
        ("parameters", deployment.parameters),
        ("job_variables", deployment.job_variables),
    ):
        if json_depth_exceeds(value, MAX_JSON_DEPTH):
            raise InvalidEntity(
                f"deployment {key} nest more than {MAX_JSON_DEPTH} levels deep",
                entity="deployment",
            )


def _flag(value: object) -> bool:
    try:
        return lax_bool(value)
    except NotABoolean:
        msg = f"deployment flag {value!r} is not a boolean"
        raise InvalidEntity(msg, entity="deployment") from None


def _stored_schema(fields: DeploymentFields) -> dict[str, JSON] | None:
    """The parameter schema Prefect stores for ``fields``."""
    if not fields.get("has_parameter_schema", True):
        return None
    given = fields.get("parameter_openapi_schema")
    schema = dict(given or {})
    if given is not None and not schema:
        return {"type": "object", "properties": {}}
    return schema


class Seeder:
    """Creates flows, pools, queues, variables, documents, deployments and runs.

    Args:
        repository: where to write.
        clock: "now" for creation timestamps.
        new_id: ids for every new entity.
        new_name: names of pre-existing runs created without one.
        new_state_id: ids of the states of pre-existing runs: UUIDv7 by default, as
            Prefect makes them; an injected ``new_id`` alone names them too.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Clock = utc_now,
        new_id: IdFactory = new_uuid,
        new_name: NameFactory = adjective_animal_slug,
        new_state_id: IdFactory | None = None,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.new_id = new_id
        self.new_name = new_name
        self.new_state_id = state_id_factory(new_id, new_state_id)

    def flow(
        self,
        name: str,
        *,
        tags: Iterable[str] = (),
        labels: Mapping[str, LabelValue] | None = None,
        id: UUID | None = None,  # noqa: A002 - the entity's own field name
    ) -> Flow:
        """Register a flow, or return the flow already registered under ``name``.

        As Prefect's ``POST /flows/``, which creates a flow only when its name is new and
        never changes an existing one (``tags``, ``labels`` and ``id`` are then ignored).

        Raises:
            InvalidEntity: the name is empty or holds one of ``/ % & > <``, a tag is not a
                string, or a label value is not a string, number or boolean.
        """
        check_name("flow", name)
        tags = check_tags("flow", tags)
        check_labels("flow", labels)
        with self.repository.transaction():
            existing = self.repository.list_flows(name=name)
            if existing:
                return existing[0]
            flow = Flow(
                id=id or self.new_id(), name=name, tags=tuple(tags), labels=dict(labels or {})
            )
            self.repository.add_flow(flow)
        return flow

    def work_pool(
        self,
        name: str,
        *,
        type: str = "process",  # noqa: A002 - the entity's own field name
        base_job_template: Mapping[str, JSON] | None = None,
        work_queues: Iterable[str] = (),
    ) -> WorkPool:
        """Register a pool with its ``default`` queue, then the named queues in order.

        As Prefect's ``POST /work_pools/``, then ``POST /work_pools/{name}/queues`` per queue.

        Raises:
            InvalidEntity: the name is empty or holds one of ``/ % & > <``; the type is not
                a string or the template not an object; the template
                lacks ``job_configuration`` or ``variables``, uses a placeholder its
                variables do not declare, has an invalid variables schema, or defaults
                that fail it; or a queue name is empty or holds one of ``/ % & > <``.
            ReservedName: the name starts with ``prefect``.
            DuplicateEntity: a pool has this name, or a queue is named twice (``default``
                included).
            BlockNotFound: a default names a block document that does not exist.
        """
        check_text("work pool", "type", type)
        check_object("work pool", "base_job_template", base_job_template)
        template = dict(base_job_template or {})
        check_work_pool(name, template)
        default_queue_id = self.new_id()
        pool = WorkPool(
            id=self.new_id(),
            name=name,
            type=type,
            base_job_template=template,
            default_queue_id=default_queue_id,
        )
        with self.repository.transaction():
            self._check_job_variables(
                template,
                None,
                entity="work pool",
                prefix="Validation failed for work pool's job variable defaults: ",
            )
            if self.repository.get_work_pool_by_name(name) is not None:
                msg = "A work pool with this name already exists."
                raise DuplicateEntity(msg, entity="work pool")
            self.repository.add_work_pool(pool)
            self.repository.create_work_queue(
                WorkQueue(id=default_queue_id, name=DEFAULT_QUEUE, work_pool_id=pool.id, priority=1)
            )
            for queue_name in work_queues:
                self.create_work_queue(name, queue_name)
        return pool

    def create_work_queue(self, pool_name: str, name: str) -> WorkQueue:
        """Add a queue to a pool at its lowest free priority, as ``POST /work_pools/{name}/queues``.

        Unlike :meth:`work_queue`, a queue of that name (``default`` included) is refused.

        Raises:
            InvalidEntity: the name is empty or holds one of ``/ % & > <``.
            WorkPoolNotFound: no pool has this name.
            DuplicateEntity: the pool has a queue of this name.
        """
        check_name("work queue", name)
        with self.repository.transaction():
            pool = self._pool_named(pool_name)
            if self.repository.get_work_queue_by_name(pool.id, name) is not None:
                msg = f"A work queue named {name!r} already exists in work pool {pool_name!r}."
                raise DuplicateEntity(msg, entity="work queue")
            return self.work_queue(pool_name, name)

    def _check_job_variables(
        self,
        template: Mapping[str, JSON],
        job_variables: Mapping[str, JSON] | None,
        *,
        entity: str,
        prefix: str,
    ) -> None:
        """Prefect's creation-time check against a pool's template (``required`` ignored).

        Without ``job_variables`` it is the check of a new pool's own defaults, which keeps
        every default; with them, the check of a deployment's, which drops invalid defaults.
        """
        try:
            validate_job_variables(
                base_job_template=template,
                deployment_job_variables=job_variables,
                request_job_variables=None,
                resolve_block=self._block_data,
                ignore_required=True,
                keep_invalid_defaults=job_variables is None,
            )
        except JobVariablesInvalid as exc:
            raise InvalidEntity(prefix + exc.message, entity=entity) from None
        except (InvalidJobVariablesSchema, CircularSchemaRef) as exc:
            raise InvalidEntity(exc.message, entity=entity) from None

    def _block_data(self, document_id: UUID) -> dict[str, JSON] | None:
        document = self.repository.get_infrastructure_document(document_id)
        return None if document is None else document.data

    def work_queue(self, pool_name: str, name: str) -> WorkQueue:
        """The named queue of the named pool, created at the lowest free priority if missing.

        Raises:
            WorkPoolNotFound: no pool has this name.
        """
        with self.repository.transaction():
            pool = self._pool_named(pool_name)
            existing = self.repository.get_work_queue_by_name(pool.id, name)
            if existing is not None:
                return existing
            priority = lowest_free_priority(
                q.priority for q in self.repository.list_work_queues(pool.id)
            )
            return self.repository.create_work_queue(
                WorkQueue(id=self.new_id(), name=name, work_pool_id=pool.id, priority=priority)
            )

    def variable(self, name: str, value: JSON = None, *, tags: Iterable[str] = ()) -> Variable:
        """Register a workspace variable, as Prefect's ``POST /variables/``.

        Raises:
            InvalidEntity: the name is longer than 255 characters or holds anything but
                lowercase letters, digits, ``-`` and ``_``; or the value is longer than
                5000 bytes as compact JSON, or is not JSON Prefect can write; or a tag is
                not a string.
            DuplicateEntity: a variable has this name.
        """
        check_variable(name, value)
        variable = Variable(
            id=self.new_id(), name=name, value=value, tags=check_tags("variable", tags)
        )
        with self.repository.transaction():
            if self.repository.get_variable(name) is not None:
                msg = f"A variable with the name {name!r} already exists."
                raise DuplicateEntity(msg, entity="variable")
            self.repository.add_variable(variable)
        return variable

    def infrastructure_document(
        self,
        name: str = "",
        data: Mapping[str, JSON] | None = None,
        *,
        is_anonymous: bool = False,
    ) -> InfrastructureDocument:
        """Register a block document (the target of ``infrastructure_document_id``).

        As Prefect's ``POST /block_documents/``: a document needs a name unless it is
        anonymous.

        Raises:
            InvalidEntity: the name is empty and the document is not anonymous, or holds
                anything but lowercase letters, digits and ``-``.
        """
        if not name and not is_anonymous:
            msg = "Names must be provided for block documents."
            raise InvalidEntity(msg, entity="block document")
        check_block_document_name(name)
        document = InfrastructureDocument(id=self.new_id(), name=name, data=dict(data or {}))
        self.repository.add_infrastructure_document(document)
        return document

    def deployment(self, flow: Flow, name: str, **fields: Unpack[DeploymentFields]) -> Deployment:
        """Register a deployment of ``flow``, or update the one it has under ``name``.

        As Prefect's ``POST /deployments/``. A new deployment takes Prefect's creation
        defaults for the fields not given (see :class:`DeploymentFields`). A deployment of
        this flow and name that exists is updated in place and keeps its id: the fields
        given replace the stored ones and the others are kept, except ``parameters``
        (``{}`` unless given) and the labels (the flow's, ``prefect.flow.id``, then
        ``labels``), which Prefect writes on every call; the queue is resolved again only
        when ``work_pool_name`` or ``work_queue_name`` is given.

        As in Prefect, a given true ``enforce_parameter_schema`` has the default
        ``parameters`` checked against the given ``parameter_openapi_schema`` (every
        ``required`` removed) and that schema checked as Draft 2020-12; and the
        ``job_variables`` are checked against the pool's template (``required`` ignored).

        Raises:
            InvalidEntity: the name holds one of ``/ % & > <``; a field has a type Prefect
                refuses (a tag that is not a string, a label value that is not a scalar, a
                ``version`` that is not a string, ``parameters`` that are not an object);
                enforcement was asked for and the parameters or the schema fail; the job
                variables fail the pool's variables schema; or, checked last,
                ``parameters`` or ``job_variables`` nest more than 256 levels deep (Prefect
                stores such a deployment, then answers 500).
            WorkPoolNotFound: ``work_pool_name`` names no pool.
            BlockNotFound: a pool default names a block document that does not exist.
            TypeError: a deployment of this flow and name exists, and the repository lacks
                the :class:`~flowrun_core.ports.DeploymentUpdates` capability.
        """
        check_deployment_name(name)
        _check_deployment_types(fields)
        if fields.get("enforce_parameter_schema"):
            schema = (
                fields.get("parameter_openapi_schema")
                if fields.get("has_parameter_schema", True)
                else None
            )
            check_enforced_parameters(fields.get("parameters") or {}, schema)
        with self.repository.transaction():
            self._check_deployment_pool(fields)
            found = self.repository.list_deployments(name=name, flow_id=flow.id)
            if not found:
                values = self._deployment_values(flow, fields)
                deployment = Deployment(id=self.new_id(), flow_id=flow.id, name=name, **values)
                _check_answerable(deployment)
                self.repository.add_deployment(deployment)
                return deployment
            if not isinstance(self.repository, DeploymentUpdates):
                msg = (
                    f"flow {flow.name!r} already has a deployment named {name!r}, and "
                    f"{type(self.repository).__name__} cannot update it in place as Prefect "
                    "does (DeploymentUpdates)"
                )
                raise TypeError(msg)
            values = self._deployment_values(flow, fields, found[0])
            deployment = attrs.evolve(found[0], **values)
            _check_answerable(deployment)
            self.repository.replace_deployment(deployment)
            return deployment

    def _deployment_values(
        self, flow: Flow, fields: DeploymentFields, existing: Deployment | None = None
    ) -> dict[str, Any]:
        """The stored values the given ``fields`` set (all of them for a new deployment)."""
        new = existing is None
        values: dict[str, Any] = {
            "parameters": dict(fields.get("parameters") or {}),
            "labels": deployment_labels(
                flow_labels=flow.labels, flow_id=flow.id, own_labels=fields.get("labels")
            ),
        }
        pool_name, queue_name = fields.get("work_pool_name"), fields.get("work_queue_name")
        if new or pool_name or queue_name:
            # Prefect binds a queue only for a non-empty pool or queue name; with neither,
            # the queue name is kept as given ("" stays "").
            queue = self._deployment_queue(pool_name, queue_name)
            values["work_queue_name"] = queue_name if queue is None else queue.name
            values["work_queue_id"] = None if queue is None else queue.id
            values["work_pool_name"] = None if queue is None else self._pool_name(queue)
        elif "work_queue_name" in fields and (existing is None or existing.work_queue_id is None):
            # An empty name on an update keeps a bound queue; it replaces an unbound name.
            values["work_queue_name"] = queue_name
        if new or "parameter_openapi_schema" in fields or "has_parameter_schema" in fields:
            values["parameter_openapi_schema"] = _stored_schema(fields)
        for key, default in _PLAIN_DEFAULTS.items():
            if new or key in fields:
                value = fields.get(key, default)
                values[key] = _flag(value) if key in _FLAGS else value
        if new or "tags" in fields:
            values["tags"] = tuple(fields.get("tags", ()))
        if new or "job_variables" in fields:
            values["job_variables"] = dict(fields.get("job_variables") or {})
        return values

    def _check_deployment_pool(self, fields: DeploymentFields) -> None:
        """The named pool exists, and the job variables pass its template (``required`` aside)."""
        pool_name = fields.get("work_pool_name")
        if not pool_name:
            return
        pool = self._pool_named(pool_name)
        job_variables = fields.get("job_variables")
        if pool_name == DEFAULT_AGENT_POOL or not job_variables:
            return
        self._check_job_variables(
            pool.base_job_template,
            job_variables,
            entity="deployment",
            prefix="Error creating deployment: ",
        )

    def _pool_named(self, name: str) -> WorkPool:
        pool = self.repository.get_work_pool_by_name(name)
        if pool is None:
            raise WorkPoolNotFound(f'Work pool "{name}" not found.', entity="work pool")
        return pool

    def _pool_name(self, queue: WorkQueue) -> str | None:
        pool = self.repository.get_work_pool(queue.work_pool_id)
        return None if pool is None else pool.name

    def _deployment_queue(
        self, work_pool_name: str | None, work_queue_name: str | None
    ) -> WorkQueue | None:
        if work_pool_name:
            return self.work_queue(work_pool_name, work_queue_name or DEFAULT_QUEUE)
        if work_queue_name:
            return self._ensure_work_queue(work_queue_name)
        return None

    def _ensure_work_queue(self, name: str) -> WorkQueue:
        """The queue a deployment naming ``name`` and no pool is bound to, as in Prefect.

        Prefect's ``ensure_work_queue_exists``: while ``default-agent-pool`` does not exist,
        the first queue of that name in any pool (a pool's ``default`` queue included);
        otherwise, or when there is none, the queue of that name in ``default-agent-pool``,
        created (with the pool) if missing. Searching every pool needs the repository's
        :class:`~flowrun_core.ports.CreationLookups` capability; without it the queue is
        always in ``default-agent-pool``.
        """
        if self.repository.get_work_pool_by_name(DEFAULT_AGENT_POOL) is None:
            if isinstance(self.repository, CreationLookups):
                found = self.repository.find_work_queues(name)
                if found:
                    return found[0]
            self.work_pool(DEFAULT_AGENT_POOL, type="prefect-agent")
        return self.work_queue(DEFAULT_AGENT_POOL, name)

    def flow_run(
        self,
        *,
        flow: Flow | None = None,
        deployment: Deployment | None = None,
        name: str | None = None,
        parameters: Mapping[str, JSON] = _NO_PARAMETERS,
        tags: Iterable[str] = (),
        idempotency_key: str | None = None,
        state_type: StateType | None = None,
        state_name: str | None = None,
        labels: Mapping[str, LabelValue] | None = None,
        state: StateCreate | None = None,
    ) -> FlowRun:
        """Insert a pre-existing run (as Prefect's plain ``POST /flow_runs/`` would).

        Give a ``deployment`` (the run then belongs to it and to its flow) or a ``flow``.
        The first state is ``state`` (a whole state as a client sends it: message and
        details included), or one of ``state_type`` named ``state_name``; without either
        the run is PENDING. A SCHEDULED state without a scheduled time is scheduled now.
        Tags are kept as given, in order and with repeats, as that route keeps them. A
        truthy ``idempotency_key`` that already names a run of the flow returns that run
        unchanged, as the route does.

        Raises:
            ValueError: both a whole state and ``state_type``/``state_name``, or neither a
                flow nor a deployment.
            InvalidEntity: a value of a type the route refuses (a truthy name or a key that
                is not a string, parameters that are not an object, a tag that is not a
                string, a label value that is not a scalar).
        """
        if state is not None and (state_type is not None or state_name is not None):
            msg = "give either a whole state or state_type/state_name, not both"
            raise ValueError(msg)
        if name:  # Prefect names a run whose name is falsy (even ``false``), as here
            check_text("flow run", "name", name)
        check_text("flow run", "idempotency_key", idempotency_key)
        given: object = parameters  # an untyped caller's null: Prefect's route refuses it
        if given is None:
            msg = "flow run parameters must be an object, not null"
            raise InvalidEntity(msg, entity="flow run")
        check_object("flow run", "parameters", parameters)
        tags = check_tags("flow run", tags)
        check_labels("flow run", labels)
        if deployment is not None:
            # As Prefect's route, which takes an id: the deployment as stored now (a later
            # registration under its flow and name may have updated it).
            deployment = self.repository.get_deployment(deployment.id) or deployment
            flow_id = deployment.flow_id
            run_labels_ = run_labels(
                deployment_labels=deployment.labels,
                flow_id=flow_id,
                deployment_id=deployment.id,
                request_labels=labels,
            )
        elif flow is not None:
            flow_id = flow.id
            run_labels_ = {**flow.labels, FLOW_ID_LABEL: str(flow_id), **(labels or {})}
        else:
            msg = "a pre-existing run needs a flow or a deployment"
            raise ValueError(msg)
        if state is None:
            kind = StateType.PENDING if state_type is None else state_type
            state = StateCreate(type=kind, name=state_name)
        first = initial_state(
            with_default_scheduled_time(state, self.clock),
            clock=self.clock,
            new_id=self.new_state_id,
        )
        created = self.clock()
        run = FlowRun(
            id=self.new_id(),
            created=created,
            updated=later_than(created, self.clock()),
            name=name or self.new_name(),
            flow_id=flow_id,
            deployment_id=None if deployment is None else deployment.id,
            # A field of the client's body there, not copied from the deployment.
            deployment_version=None,
            parameters=dict(parameters),
            idempotency_key=idempotency_key,
            empirical_policy=FlowRunPolicy(),
            tags=tuple(tags),  # as given: Prefect keeps order and repeats
            labels=run_labels_,
            # Prefect's plain create leaves a null out of the INSERT (column default {}),
            # except on the idempotency-key path, which stores the null.
            job_variables=None if idempotency_key else {},
        )
        run = as_stored(apply_initial_state(run, first))
        with self.repository.transaction():
            if idempotency_key:
                existing = self.repository.get_flow_run_by_idempotency_key(flow_id, idempotency_key)
                if existing is not None:
                    return existing
            self.repository.add_flow_run(run)
        return run

    def task_run(
        self,
        *,
        flow_run: FlowRun | None = None,
        name: str = "",
        task_key: str = "task",
        dynamic_key: str = "0",
    ) -> TaskRun:
        """Register a task run, optionally inside ``flow_run``.

        As Prefect's ``POST /task_runs/``, a task run with the same flow run (or none),
        task key and dynamic key is the one returned, unchanged (this needs the repository's
        :class:`~flowrun_core.ports.CreationLookups` capability).
        """
        flow_run_id = None if flow_run is None else flow_run.id
        with self.repository.transaction():
            if isinstance(self.repository, CreationLookups):
                found = self.repository.find_task_run(flow_run_id, task_key, dynamic_key)
                if found is not None:
                    return found
            task_run = TaskRun(
                id=self.new_id(),
                flow_run_id=flow_run_id,
                name=name,
                task_key=task_key,
                dynamic_key=dynamic_key,
            )
            self.repository.add_task_run(task_run)
        return task_run
