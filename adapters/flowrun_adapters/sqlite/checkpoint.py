"""Copy the write-ahead log into the database file from a thread of its own.

In WAL mode a commit appends pages to the ``-wal`` file; a *checkpoint* later copies them
into the database file. By default SQLite runs that checkpoint inside whichever commit makes
the log pass ``wal_autocheckpoint`` pages (1000), so every so often one create pays for
writing every page the creates before it touched. With uuid4 run ids those pages are scattered
across the id index, so the bill grows with the table: at a million stored runs it is what
makes creates slower than at ten thousand.

:class:`Checkpointer` moves that work off the caller's path. A daemon thread, with its own
connection, runs ``PRAGMA wal_checkpoint(PASSIVE)`` after every ``checkpoint_every`` writes
(the repository counts them and wakes the thread; an idle repository never wakes it): a passive
checkpoint never waits for and never blocks readers or writers, and SQLite releases the GIL
while it copies. The repository raises ``wal_autocheckpoint`` (:data:`SAFETY_NET_PAGES`) so that
the inline checkpoint only finishes what the thread has nearly done, and bounds the log.

The thread is woken by a count of writes, not by a timer: a thread that wakes 20 times a
second takes the GIL from the process's other threads each time, which slowed an in-memory
repository in the same process by up to 40% on a 2-core machine.

Durability is unchanged: a checkpoint copies committed pages only, and a process killed in the
middle of one leaves a file SQLite recovers on the next open, as after any crash.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Final

__all__ = ["DEFAULT_EVERY", "SAFETY_NET_PAGES", "Checkpointer"]

DEFAULT_EVERY: Final = 100
"""Writes between background checkpoints (a create writes some 6 pages to the log)."""

SAFETY_NET_PAGES: Final = 10_000
"""``wal_autocheckpoint`` while a checkpointer runs (about 40 MB of log).

Under a steady stream of commits the thread never quite catches up with the end of the log,
and SQLite rewinds the log only once a checkpoint has copied all of it. The commit that takes
the log past this size therefore checkpoints inline, which is cheap because the thread has
copied nearly every frame already, and the next commit rewinds the log. So the log stays
about this size at most, whatever the write rate. (Measured at a million stored runs: 4,000
pages rewound more often and cost more in total than 10,000.)"""


class Checkpointer:
    """A daemon thread that checkpoints one WAL database file when told to, until :meth:`stop`.

    The thread sleeps until :meth:`notify` (the repository calls it every
    ``checkpoint_every`` writes), so an idle repository costs nothing: a thread that woke
    on a timer would take the GIL from the process's other threads many times a second.
    Failures (a busy database, a file that went away) are ignored: the next round tries
    again, and the writers' inline checkpoint remains as a safety net.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stopped = False
        self._rounds = 0
        self._thread = threading.Thread(
            target=self._run, name=f"flowrun-sqlite-checkpoint:{path}", daemon=True
        )
        self._thread.start()

    @property
    def rounds(self) -> int:
        """Checkpoints run so far."""
        return self._rounds

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread.is_alive()

    def notify(self) -> None:
        """Ask for a checkpoint soon (at once if the thread is idle); never blocks."""
        self._wake.set()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=0, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopped:
                    return
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue
                self._rounds += 1
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread and wait for it (a checkpoint under way finishes first)."""
        self._stopped = True
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
