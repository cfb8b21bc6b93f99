"""The in-memory adapter passes the shipped storage contract."""

from __future__ import annotations

from contextlib import closing

from flowrun_adapters.memory import InMemoryRepository

from flowrun_core.testing import RepositoryContract


class TestInMemoryRepository(RepositoryContract[InMemoryRepository]):
    def make_repository(self) -> closing[InMemoryRepository]:
        return closing(InMemoryRepository())

    def raw_flow_run_count(self, repo: InMemoryRepository) -> int:
        return len(repo._runs)
