"""``flowrun_adapters.open_repository``: one way to open any shipped adapter from a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowrun_adapters import open_repository
from flowrun_adapters.memory import InMemoryRepository
from flowrun_adapters.sqlite import SQLiteRepository


@pytest.mark.parametrize("url", ["memory:", "memory://", "MEMORY:", "Memory://"])
def test_memory_urls(url: str) -> None:
    repo = open_repository(url)
    assert isinstance(repo, InMemoryRepository)
    repo.close()


def test_the_default_is_memory() -> None:
    repo = open_repository()
    assert isinstance(repo, InMemoryRepository)
    repo.close()


@pytest.mark.parametrize("scheme", ["sqlite", "SQLite", "SQLITE"])
def test_sqlite_urls_in_any_case(tmp_path: Path, scheme: str) -> None:
    path = tmp_path / "runs.db"
    repo = open_repository(f"{scheme}:///{path}?synchronous=full")
    assert isinstance(repo, SQLiteRepository)
    assert (repo.path, repo.synchronous) == (str(path), "FULL")
    repo.close()
    assert path.exists()


@pytest.mark.parametrize("url", ["", "runs.db", "mysql://x/y", "memory", "file:///runs.db"])
def test_an_unknown_url_says_what_is_expected(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        open_repository(url)
    assert str(caught.value) == (
        f"Unknown repository URL {url!r}: expected 'memory:', 'sqlite:///path.db' "
        "or 'postgresql://user@host/dbname'."
    )
