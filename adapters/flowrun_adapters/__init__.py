"""Storage and driving adapters for flowrun-core.

:func:`open_repository` is the one way to open a storage adapter from a URL-like string:

* ``memory:`` — :class:`flowrun_adapters.memory.InMemoryRepository`;
* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``sqlite://:memory:`` —
  :class:`flowrun_adapters.sqlite.SQLiteRepository`.
"""

from __future__ import annotations

from flowrun_core.ports import Repository

__all__ = ["open_repository"]


def open_repository(url: str = "memory:") -> Repository:
    """Open the storage adapter ``url`` names (``memory:`` or ``sqlite:///path.db``)."""
    if url in {"memory:", "memory://"}:
        from flowrun_adapters.memory import InMemoryRepository  # noqa: PLC0415 - lazy by design

        return InMemoryRepository()
    if url.startswith("sqlite:"):
        from flowrun_adapters.sqlite import SQLiteRepository  # noqa: PLC0415 - lazy by design

        return SQLiteRepository.from_url(url)
    msg = f"Unknown repository URL {url!r}: expected 'memory:' or 'sqlite:///path.db'."
    raise ValueError(msg)
