"""The conformance kit catches an adapter that breaks any single guarantee of the port."""

from __future__ import annotations

import inspect
import time
from contextlib import closing, contextmanager
from typing import Any

import attrs
import pytest
from flowrun_adapters.memory import InMemoryRepository
from hypothesis import Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from flowrun_core.models import Created, FlowRun
from flowrun_core.testing import RepositoryContract
from flowrun_core.testing.stateful import RepositoryMachine


class NonAtomicIdempotency(InMemoryRepository):
    """Find-then-insert without holding the lock: racing callers both create."""

    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        key = flow_run.idempotency_key
        existing = self.get_flow_run_by_idempotency_key(flow_run.flow_id, key) if key else None
        if existing is not None:
            return Created(value=existing, created=False)
        time.sleep(0.01)
        with self._lock:
            self._runs[flow_run.id] = flow_run
            if key is not None:
                self._run_keys[(flow_run.flow_id, key)] = flow_run.id
        return Created(value=flow_run, created=True)


class HandsOutAliases(InMemoryRepository):
    def get_flow_run(self, flow_run_id, /):  # type: ignore[no-untyped-def]
        return self._runs.get(flow_run_id)


class DropsLabels(InMemoryRepository):
    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        return super().create_flow_run(attrs.evolve(flow_run, labels={}))


class DropsTags(InMemoryRepository):
    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        return super().create_flow_run(attrs.evolve(flow_run, tags=()))


class LosesParameters(InMemoryRepository):
    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        return super().create_flow_run(attrs.evolve(flow_run, parameters={}))


class WrongCreatedFlag(InMemoryRepository):
    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        result = super().create_flow_run(flow_run)
        return Created(value=result.value, created=True)


class NoRollback(InMemoryRepository):
    @contextmanager
    def transaction(self):  # type: ignore[no-untyped-def]
        with self._lock:
            yield


class ForgetsEmptyKey(InMemoryRepository):
    def create_flow_run(self, flow_run: FlowRun, /) -> Created[FlowRun]:
        if flow_run.idempotency_key == "":
            flow_run = attrs.evolve(flow_run, idempotency_key=None)
        return super().create_flow_run(flow_run)


class LeaksDriverErrors(InMemoryRepository):
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("closed")


BROKEN = [
    NonAtomicIdempotency,
    HandsOutAliases,
    DropsLabels,
    DropsTags,
    LosesParameters,
    WrongCreatedFlag,
    NoRollback,
    ForgetsEmptyKey,
    LeaksDriverErrors,
]


def _contract_failures(adapter: type[InMemoryRepository]) -> list[str]:
    class Contract(RepositoryContract[Any]):
        def make_repository(self):  # type: ignore[no-untyped-def]
            return closing(adapter())

        def raw_flow_run_count(self, repo):  # type: ignore[no-untyped-def]
            return len(repo._runs)

    contract = Contract()
    names = contract.contract_test_names()
    # Example tests first; property tests (slow to shrink) only if none of those caught it.
    examples = [n for n in names if "repo" in inspect.signature(getattr(contract, n)).parameters]
    properties = [n for n in names if n not in examples]
    failures = _run(contract, examples)
    return failures or _run(contract, properties)


def _run(contract: RepositoryContract[Any], names: list[str]) -> list[str]:
    failures = []
    for name in names:
        try:
            contract.run_contract_test(name)
        except BaseException:
            failures.append(name)
    return failures


@pytest.mark.slow
@pytest.mark.parametrize("adapter", BROKEN, ids=lambda a: a.__name__)
def test_the_contract_catches(adapter: type[InMemoryRepository]) -> None:
    assert _contract_failures(adapter), f"{adapter.__name__} passed the whole contract"


def test_a_correct_adapter_passes_everything() -> None:
    assert _contract_failures(InMemoryRepository) == []


@pytest.mark.slow
@pytest.mark.parametrize("adapter", [WrongCreatedFlag, ForgetsEmptyKey])
def test_the_state_machine_catches(adapter: type[InMemoryRepository]) -> None:
    with pytest.raises(BaseException):  # noqa: B017 - any failure counts as caught
        # Finding the failure is the point; shrinking it (minutes on some hypothesis
        # versions) is not, so the run stops at the first failing example.
        run_state_machine_as_test(
            lambda: RepositoryMachine(adapter),
            settings=settings(
                phases=(Phase.explicit, Phase.generate), database=None, deadline=None
            ),
        )
