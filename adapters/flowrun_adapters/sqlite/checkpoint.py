"""Copy the write-ahead log into the database file from a thread of its own.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* later copies them
into the database file. By default SQLite runs that checkpoint inside whichever commit makes
the log pass ``wal_autocheckpoint`` pages (1000), so one create in a thousand pays for
writing every page the last thousand touched. With uuid4 run ids those pages are scattered
across the id index, so the bill grows with the table: at a million stored runs it is what
makes creates slower than at ten thousand.

:class:`Checkpointer` moves that work off the caller's path. A daemon thread, with its own
connection, runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds: a passive
checkpoint never waits for and never blocks readers or writers, and SQLite releases the GIL
while it copies. The repository raises ``wal_autocheckpoint`` (:data:`SAFETY_NET_PAGES`) so that
the inline checkpoint only finishes what the thread has nearly done, and bounds the log.

Durability is unchanged: a checkpoint copies committed pages only, and a process killed in the
middle of one leaves a file SQLite recovers on the next open, as after any crash.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Final

__all__ = ["DEFAULT_INTERVAL", "SAFETY_NET_PAGES", "Checkpointer"]

DEFAULT_INTERVAL: Final = 0.05
"""Seconds between background checkpoints."""

SAFETY_NET_PAGES: Final = 10_000
"""``wal_autocheckpoint`` while a checkpointer runs (about 40 MB of log).

Under a steady stream of commits the thread never quite catches up with the end of the log,
and SQLite rewinds the log only once a checkpoint has copied all of it. The commit that takes
the log past this size therefore checkpoints inline, which is cheap because the thread has
copied nearly every frame already, and the next commit rewinds the log. So the log stays
about this size at most, whatever the write rate. (Measured at a million stored runs: 4,000
pages rewound more often and cost more in total than 10,000.)"""


class Checkpointer:
    """A daemon thread that checkpoints one WAL database file until :meth:`stop`.

    Failures (a busy database, a file that went away) are ignored: the next round tries
    again, and the writers' inline checkpoint remains as a safety net.
    """

    def __init__(self, path: str, *, interval: float = DEFAULT_INTERVAL) -> None:
        if not interval > 0:
            raise ValueError(f"checkpoint interval must be > 0 seconds, not {interval!r}")
        self._path = path
        self._interval = interval
        self._stopped = threading.Event()
        self._rounds = 0
        self._thread = threading.Thread(
            target=self._run, name=f"flowrun-sqlite-checkpoint:{path}", daemon=True
        )
        self._thread.start()

    @property
    def rounds(self) -> int:
        """Checkpoints run so far (each may have had nothing to copy)."""
        return self._rounds

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while not self._stopped.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue
                self._rounds += 1
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread and wait for it (a checkpoint under way finishes first)."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
