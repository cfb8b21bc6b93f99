"""The PostgreSQL storage adapter: :class:`PostgresRepository`, on psycopg 3 and psycopg-pool.

Install it with ``pip install 'flowrun-core[postgres]'``. See
:mod:`flowrun_adapters.postgres.repository` for the design (pool, transactions, isolation,
retries), :mod:`~flowrun_adapters.postgres.migrations` for the schema and
:mod:`~flowrun_adapters.postgres._translate` for the error mapping.
"""

from __future__ import annotations

from .migrations import SCHEMA_VERSION
from .repository import PostgresRepository

__all__ = ["SCHEMA_VERSION", "PostgresRepository"]
