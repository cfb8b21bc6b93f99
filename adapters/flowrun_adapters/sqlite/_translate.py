"""The one choke point where ``sqlite3`` failures become typed storage errors.

Every statement the adapter runs goes through :class:`Translator` (a cheap, reusable
context manager), so no ``sqlite3`` exception ever reaches a caller. The mapping follows
SQLite's primary result codes (``sqlite_errorcode & 0xFF``):

============================  ==============================================
``SQLITE_BUSY``, ``LOCKED``   :class:`~flowrun_core.errors.StorageLocked`
``SQLITE_READONLY``           :class:`~flowrun_core.errors.StorageReadOnly`
``SQLITE_FULL``               :class:`~flowrun_core.errors.StorageFull`
``SQLITE_CORRUPT``, ``NOTADB``  :class:`~flowrun_core.errors.StorageCorrupt`
``SQLITE_CONSTRAINT``         :class:`~flowrun_core.errors.StorageIntegrityError`
other ``OperationalError``    :class:`~flowrun_core.errors.StorageOperationalError`
a closed connection           :class:`~flowrun_core.errors.StorageClosed`
anything else                 :class:`~flowrun_core.errors.StorageError`
============================  ==============================================

Values SQLite cannot represent (an integer beyond 64 bits, a string with a lone surrogate)
fail while the driver binds them; they surface as :class:`StorageError` too.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType
from typing import Final

from flowrun_core.errors import (
    StorageClosed,
    StorageCorrupt,
    StorageError,
    StorageFull,
    StorageIntegrityError,
    StorageLocked,
    StorageOperationalError,
    StorageReadOnly,
    StorageValueError,
)

__all__ = ["Translator", "is_busy", "translate_error"]

_BUSY: Final = 5
_LOCKED: Final = 6
_READONLY: Final = 8
_CORRUPT: Final = 11
_FULL: Final = 13
_CONSTRAINT: Final = 19
_NOTADB: Final = 26


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _result_code(exc: BaseException) -> int | None:
    """SQLite's primary result code for ``exc``, read off its text when the driver gave none."""
    code = _primary_code(exc) if isinstance(exc, sqlite3.Error) else None
    if code is not None:
        return code
    # Older drivers or errors raised by the module itself: fall back on the text.
    lowered = str(exc).lower()
    if isinstance(exc, sqlite3.IntegrityError):
        return _CONSTRAINT
    if "locked" in lowered or "busy" in lowered:
        return _BUSY
    if "readonly" in lowered or "read-only" in lowered:
        return _READONLY
    if "full" in lowered:
        return _FULL
    if "not a database" in lowered:
        return _NOTADB
    if "malformed" in lowered:
        return _CORRUPT
    return None


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` is the driver's "database is locked" (``SQLITE_BUSY`` or ``LOCKED``)."""
    return isinstance(exc, sqlite3.OperationalError) and _result_code(exc) in {_BUSY, _LOCKED}


def translate_error(exc: BaseException, where: str, busy_timeout: float) -> StorageError:
    """Return the storage error that stands for ``exc`` (``where`` names the database).

    Args:
        exc: what the driver raised.
        where: the database's path, for the message.
        busy_timeout: the configured busy timeout in seconds, for the message.
    """
    detail = str(exc)
    if isinstance(exc, OverflowError):
        return StorageValueError(f"SQLite database {where}: a value cannot be stored: {detail}")
    if isinstance(exc, UnicodeError):
        return StorageValueError(f"SQLite database {where}: a string cannot be stored: {detail}")
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in detail:
        return StorageClosed(f"The repository is closed ({where}).")
    code = _result_code(exc)
    if code in {_BUSY, _LOCKED}:
        return StorageLocked(
            f"SQLite database {where} is locked: another writer held it past the busy "
            f"timeout of {busy_timeout:g} s; nothing was written ({detail})."
        )
    if code == _READONLY:
        return StorageReadOnly(
            f"SQLite database {where} is read-only; nothing was written ({detail})."
        )
    if code == _FULL:
        return StorageFull(
            f"SQLite database {where} is full (disk full or max_page_count reached); "
            f"nothing was written ({detail})."
        )
    if code in {_CORRUPT, _NOTADB}:
        return StorageCorrupt(
            f"SQLite database {where} is not a valid database or is damaged ({detail})."
        )
    if code == _CONSTRAINT:
        return StorageIntegrityError(f"Constraint violated; nothing was written: {detail}.")
    if isinstance(exc, sqlite3.OperationalError):
        return StorageOperationalError(f"SQLite database {where}: {detail}.")
    return StorageError(f"SQLite database {where}: {detail}.")


_TRANSLATED: Final = (sqlite3.Error, OverflowError, UnicodeError)


class Translator:
    """A reusable context manager that re-raises driver failures as storage errors."""

    __slots__ = ("busy_timeout", "where")

    def __init__(self, where: str, busy_timeout: float) -> None:
        self.where = where
        self.busy_timeout = busy_timeout

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and isinstance(exc, _TRANSLATED):
            raise translate_error(exc, self.where, self.busy_timeout) from exc
