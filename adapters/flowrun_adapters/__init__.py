"""Storage and driving adapters for flowrun-core.

:func:`open_repository` is the one way to open a storage adapter from a URL-like string:

* ``memory:`` — :class:`flowrun_adapters.memory.InMemoryRepository`;
* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or ``sqlite://:memory:`` —
  :class:`flowrun_adapters.sqlite.SQLiteRepository`;
* ``postgresql://user@host:5432/dbname?schema=flowrun`` (or ``postgres://``) —
  :class:`flowrun_adapters.postgres.PostgresRepository` (needs ``flowrun-core[postgres]``).
"""

from __future__ import annotations

from flowrun_core.ports import Repository

__all__ = ["open_repository"]


def open_repository(url: str = "memory:") -> Repository:
    """Open the storage adapter ``url`` names: ``memory:``, ``sqlite:///...``, ``postgresql://...``.

    The scheme is read in any case (``SQLite:///runs.db``), as URL schemes are.
    """
    scheme = url.partition(":")[0].lower()
    if url.lower() in {"memory:", "memory://"}:
        from flowrun_adapters.memory import InMemoryRepository  # noqa: PLC0415 - lazy by design

        return InMemoryRepository()
    if scheme == "sqlite":
        from flowrun_adapters.sqlite import SQLiteRepository  # noqa: PLC0415 - lazy by design

        return SQLiteRepository.from_url(url)
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        try:
            from flowrun_adapters.postgres import PostgresRepository  # noqa: PLC0415
        except ImportError as exc:  # pragma: no cover - depends on the environment
            msg = (
                f"PostgreSQL URLs need psycopg and psycopg-pool ({exc}): "
                "pip install 'flowrun-core[postgres]'"
            )
            raise ValueError(msg) from exc
        return PostgresRepository.from_url(url)
    msg = (
        f"Unknown repository URL {url!r}: expected 'memory:', 'sqlite:///path.db' "
        "or 'postgresql://user@host/dbname'."
    )
    raise ValueError(msg)
