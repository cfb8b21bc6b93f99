"""The SQLite storage adapter: :class:`SQLiteRepository` over one file, on sqlite-utils.

See :mod:`flowrun_adapters.sqlite.repository` for the design (locking, transactions,
durability), :mod:`~flowrun_adapters.sqlite.migrations` for the schema and
:mod:`~flowrun_adapters.sqlite._translate` for the error mapping.
"""

from __future__ import annotations

from .migrations import SCHEMA_VERSION
from .repository import SQLiteRepository

__all__ = ["SCHEMA_VERSION", "SQLiteRepository"]
