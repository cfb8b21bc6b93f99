"""The one choke point where psycopg failures become typed storage errors.

Every statement the adapter runs, every connection it opens and every pool checkout goes
through :func:`translate_error` (usually via :class:`Translator`), so no driver exception
reaches a caller. The mapping follows PostgreSQL's SQLSTATE codes, and the libpq message
when a connection attempt fails before the server sent one:

=============================================  ============================
class 23 (unique, foreign key, not null, ...)  ``StorageIntegrityError``
``57014`` query canceled (statement timeout)   ``StorageTimeout``
``55P03`` lock not available, ``40P01``        ``StorageLocked``
``40001`` serialization failure                ``StorageOperationalError``
class 28, ``3D000``, ``42501``; refused        ``StorageAccessDenied``
credentials, unknown role or database
class 08, ``57P01``-``57P03``, ``53300``;      ``StorageUnavailable``
refused, closed or lost connections; a pool
timeout
``25006`` read-only transaction                ``StorageReadOnly``
``53100`` disk full                            ``StorageFull``
class XX (data or index corrupted)             ``StorageCorrupt``
``42P01`` undefined table                      ``StorageSchemaError``
a closed pool                                  ``StorageClosed``
anything else; values PostgreSQL cannot hold   ``StorageError``
=============================================  ============================

All of them are :mod:`flowrun_core.errors` classes. Messages name the server (host, port,
database, user; never a password) and say whether anything was written.
"""

from __future__ import annotations

from types import TracebackType
from typing import Final

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors

from flowrun_core.errors import (
    StorageAccessDenied,
    StorageClosed,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIntegrityError,
    StorageLocked,
    StorageOperationalError,
    StorageReadOnly,
    StorageSchemaError,
    StorageTimeout,
    StorageUnavailable,
    StorageValueError,
)

__all__ = [
    "DRIVER_ERRORS",
    "Translator",
    "describe_conninfo",
    "is_disconnect",
    "is_retryable",
    "translate_error",
]

DRIVER_ERRORS: Final = (psycopg.Error, UnicodeEncodeError, OverflowError)
"""What the driver raises: its own errors, and encoding failures while binding values."""

_RETRYABLE: Final = frozenset({"40001", "40P01"})
_DISCONNECT_STATES: Final = frozenset({"57P01", "57P02", "57P03", "53300"})
_ACCESS_MESSAGES: Final = (
    "password authentication failed",
    "authentication failed",
    "no pg_hba.conf entry",
    "does not exist",
    "permission denied",
    "no password supplied",
)


def describe_conninfo(conninfo: str) -> str:
    """A readable name for the server a conninfo string or URL names, without its password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "PostgreSQL server (unparsable connection string)"
    host = params.get("host") or "localhost"
    port = params.get("port") or "5432"
    parts = [f"PostgreSQL server {host}:{port}"]
    if params.get("dbname"):
        parts.append(f"database {params['dbname']!s}")
    if params.get("user"):
        parts.append(f"user {params['user']!s}")
    return ", ".join(parts)


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a serialization failure or a deadlock (the statement undid itself)."""
    return isinstance(exc, psycopg.Error) and exc.sqlstate in _RETRYABLE


def is_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` means the connection was lost or could not be used at all."""
    if isinstance(exc, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
        return False
    if not isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = exc.sqlstate
    if state is None:
        return not _is_access_problem(str(exc))
    return state.startswith("08") or state in _DISCONNECT_STATES


def _is_access_problem(message: str) -> bool:
    lowered = message.lower()
    return any(text in lowered for text in _ACCESS_MESSAGES)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate_error(exc: BaseException, where: str) -> StorageError:
    """Return the storage error that stands for ``exc`` (``where`` names the server).

    Args:
        exc: what the driver (or the pool) raised.
        where: the server, from :func:`describe_conninfo`, for the message.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, psycopg_pool.PoolClosed):
        return StorageClosed(f"The repository is closed ({where}).")
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return StorageUnavailable(
            f"{where}: no connection became available in time ({_first_line(exc)}); "
            "the server may be down or every pooled connection busy. Nothing was written."
        )
    if isinstance(exc, UnicodeEncodeError | OverflowError):
        return StorageValueError(f"{where}: a value cannot be stored ({exc}); nothing was written.")
    if not isinstance(exc, psycopg.Error):
        return StorageError(f"{where}: {type(exc).__name__}: {exc}")
    message = _first_line(exc)
    state = exc.sqlstate or ""
    if isinstance(exc, psycopg.IntegrityError) or state.startswith("23"):
        return StorageIntegrityError(f"{where}: {message}; nothing was written.")
    if isinstance(exc, pg_errors.QueryCanceled):
        return StorageTimeout(
            f"{where}: the statement was cancelled ({message}); nothing was written."
        )
    if state in {"55P03", "40P01"}:
        return StorageLocked(
            f"{where}: {message}; the statement was rolled back and nothing was written."
        )
    if state == "40001":
        return StorageOperationalError(
            f"{where}: {message}; the transaction was rolled back and nothing was written."
        )
    if (
        state.startswith("28")
        or state in {"3D000", "42501"}
        or (not state and _is_access_problem(message))
    ):
        return StorageAccessDenied(f"{where}: access denied: {message}")
    if state == "25P02":
        return StorageError(
            f"{where}: the enclosing transaction was aborted by an earlier error inside it; "
            "nothing in it will be written. Leave the transaction block and start again."
        )
    if state == "25006":
        return StorageReadOnly(f"{where}: {message}; nothing was written.")
    if state == "53100":
        return StorageFull(f"{where}: {message}; nothing was written.")
    if state.startswith("XX"):
        return StorageCorrupt(f"{where}: {message}")
    if state == "42P01":
        return StorageSchemaError(
            f"{where}: {message}; the flowrun schema is missing or incomplete."
        )
    if is_disconnect(exc):
        return StorageUnavailable(f"{where}: cannot reach the server: {message}")
    if isinstance(exc, psycopg.DataError):
        return StorageError(f"{where}: a value cannot be stored: {message}; nothing was written.")
    if isinstance(exc, psycopg.OperationalError):
        return StorageOperationalError(f"{where}: {message}")
    return StorageError(f"{where}: {message}")


class Translator:
    """A reusable context manager that re-raises driver failures as storage errors."""

    __slots__ = ("where",)

    def __init__(self, where: str) -> None:
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and isinstance(exc, DRIVER_ERRORS):
            raise translate_error(exc, self.where) from exc
