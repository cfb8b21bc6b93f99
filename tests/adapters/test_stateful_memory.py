"""The in-memory adapter against the pure model."""

from __future__ import annotations

from flowrun_adapters.memory import InMemoryRepository
from hypothesis.stateful import run_state_machine_as_test

from flowrun_core.testing.stateful import RepositoryMachine


def test_memory_adapter_matches_the_model() -> None:
    run_state_machine_as_test(lambda: RepositoryMachine(InMemoryRepository))
