"""Rule-based state machines for storage adapters.

* :class:`RepositoryMachine` checks one adapter against a pure model (plain dicts).
* :class:`DifferentialMachine` drives two adapters with the same steps and asserts that
  everything observable agrees (the in-memory adapter is the reference).

Run them with hypothesis's ``run_state_machine_as_test``::

    run_state_machine_as_test(lambda: RepositoryMachine(MyRepository))

Keys are drawn from a tiny alphabet so that they repeat, and every step may also run inside a
transaction that is rolled back, which must leave no trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from flowrun_core.errors import StorageIntegrityError
from flowrun_core.models import Flow, FlowRun, WorkPool, WorkQueue
from flowrun_core.ports import Repository
from flowrun_core.testing.contract import _differing_fields, assert_same, make_run
from flowrun_core.testing.strategies import idempotency_keys, json_objects, label_values

__all__ = ["DifferentialMachine", "RepositoryMachine"]

RepositoryFactory = Callable[[], Repository]

_FLOWS = (uuid.UUID(int=1), uuid.UUID(int=2))
_POOL = uuid.UUID(int=10)


class _Rollback(Exception):
    """Raised inside a transaction to roll it back on purpose."""


def _seed(repo: Repository) -> None:
    for i, flow_id in enumerate(_FLOWS):
        repo.add_flow(Flow(id=flow_id, name=f"flow-{i}"))
    repo.add_work_pool(WorkPool(id=_POOL, name="pool"))


_runs = st.builds(
    lambda flow, key, params, labels, tags: make_run(
        flow,
        idempotency_key=key,
        parameters=params,
        labels=labels,
        tags=tuple(tags),
    ),
    st.sampled_from(_FLOWS),
    idempotency_keys(),
    json_objects(),
    st.dictionaries(st.text(max_size=3), label_values(), max_size=3),
    st.lists(st.text(max_size=3), max_size=3, unique=True),
)


class RepositoryMachine(RuleBasedStateMachine):
    """One adapter against a model: ``{(flow_id, key): run_id}`` and ``{run_id: run}``."""

    def __init__(self, make_repository: RepositoryFactory) -> None:
        super().__init__()
        self.repo = make_repository()
        _seed(self.repo)
        self.keys: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        self.runs: dict[uuid.UUID, FlowRun] = {}
        self.queues: dict[str, WorkQueue] = {}

    def teardown(self) -> None:
        """Close the adapter."""
        self.repo.close()

    def _expect_create(self, run: FlowRun) -> tuple[str, uuid.UUID | None]:
        key = run.idempotency_key
        if key and (run.flow_id, key) in self.keys:
            return "hit", self.keys[(run.flow_id, key)]
        if key is not None and (run.flow_id, key) in self.keys:
            return "conflict", None
        return "created", run.id

    def _record(self, run: FlowRun) -> None:
        self.runs[run.id] = run
        if run.idempotency_key is not None:
            self.keys[(run.flow_id, run.idempotency_key)] = run.id

    @rule(run=_runs)
    def create(self, run: FlowRun) -> None:
        """create_flow_run matches the model: created, hit (stored run) or conflict."""
        outcome, expected_id = self._expect_create(run)
        if outcome == "conflict":
            try:
                self.repo.create_flow_run(run)
            except StorageIntegrityError:
                return
            msg = "a second '' key for one flow must be an integrity error"
            raise AssertionError(msg)
        result = self.repo.create_flow_run(run)
        assert result.created == (outcome == "created")
        assert result.value.id == expected_id
        if outcome == "created":
            assert_same(result.value, run, "the created run")
            self._record(run)
        else:
            assert expected_id is not None
            assert_same(result.value, self.runs[expected_id], "the run a key hit returned")

    @rule(run=_runs, queue_name=st.sampled_from(["a", "b", "c"]))
    def create_and_roll_back(self, run: FlowRun, queue_name: str) -> None:
        """A transaction that raises leaves neither its queue nor its run behind."""
        before = self.repo.count_flow_runs()
        try:
            with self.repo.transaction():
                if queue_name not in self.queues:
                    self.repo.create_work_queue(
                        WorkQueue(id=uuid.uuid4(), name=queue_name, work_pool_id=_POOL, priority=9)
                    )
                self.repo.create_flow_run(run)
                raise _Rollback
        except (_Rollback, StorageIntegrityError):
            pass
        assert self.repo.count_flow_runs() == before
        if queue_name not in self.queues:
            assert self.repo.get_work_queue_by_name(_POOL, queue_name) is None

    @rule(queue_name=st.sampled_from(["a", "b", "c"]))
    def create_queue(self, queue_name: str) -> None:
        """Queue names are unique per pool."""
        queue = WorkQueue(id=uuid.uuid4(), name=queue_name, work_pool_id=_POOL, priority=2)
        if queue_name in self.queues:
            try:
                self.repo.create_work_queue(queue)
            except StorageIntegrityError:
                return
            msg = "a taken queue name must be an integrity error"
            raise AssertionError(msg)
        assert self.repo.create_work_queue(queue) == queue
        self.queues[queue_name] = queue

    @precondition(lambda self: bool(self.runs))
    @rule(data=st.data())
    def read_back(self, data: st.DataObject) -> None:
        """Every stored run reads back equal, by id and by key."""
        run_id = data.draw(st.sampled_from(sorted(self.runs)))
        run = self.runs[run_id]
        assert_same(self.repo.get_flow_run(run_id), run, "a stored run read by id")
        if run.idempotency_key is not None:
            assert (
                self.repo.get_flow_run_by_idempotency_key(run.flow_id, run.idempotency_key) == run
            )

    @invariant()
    def counts_agree(self) -> None:
        """The store holds exactly the model's runs."""
        assert self.repo.count_flow_runs() == len(self.runs)


class DifferentialMachine(RuleBasedStateMachine):
    """Two adapters, one sequence of steps: every observable result must agree."""

    def __init__(
        self, make_reference: RepositoryFactory, make_candidate: RepositoryFactory
    ) -> None:
        super().__init__()
        self.repos = (make_reference(), make_candidate())
        for repo in self.repos:
            _seed(repo)
        self.ids: list[uuid.UUID] = []

    def teardown(self) -> None:
        """Close both adapters."""
        for repo in self.repos:
            repo.close()

    def _both(self, step: Callable[[Repository], Any]) -> Any:
        outcomes = []
        for repo in self.repos:
            try:
                outcomes.append(("ok", step(repo)))
            except StorageIntegrityError:
                outcomes.append(("integrity", None))
        if outcomes[0] != outcomes[1]:
            kinds = (outcomes[0][0], outcomes[1][0])
            fields = []
            if kinds == ("ok", "ok"):
                fields = _differing_fields(outcomes[0][1], outcomes[1][1])
            msg = f"the adapters disagree: outcomes {kinds}, differing fields {fields}"
            raise AssertionError(msg)
        return outcomes[0][1]

    @rule(run=_runs)
    def create(self, run: FlowRun) -> None:
        """The same create gives the same flag and the same stored run on both."""
        result = self._both(lambda repo: repo.create_flow_run(run))
        if result is not None:
            self.ids.append(result.value.id)

    @rule(run=_runs)
    def create_and_roll_back(self, run: FlowRun) -> None:
        """A rolled-back create leaves both stores as they were."""

        def step(repo: Repository) -> int:
            try:
                with repo.transaction():
                    repo.create_flow_run(run)
                    raise _Rollback
            except _Rollback:
                pass
            return repo.count_flow_runs()

        self._both(step)

    @precondition(lambda self: bool(self.ids))
    @rule(data=st.data())
    def read(self, data: st.DataObject) -> None:
        """A run reads back identically from both."""
        run_id = data.draw(st.sampled_from(self.ids))
        self._both(lambda repo: repo.get_flow_run(run_id))

    @invariant()
    def listings_agree(self) -> None:
        """Both list the same runs in the same order."""
        self._both(lambda repo: list(repo.list_flow_runs()))
