"""A progress display: one updating line on a terminal, plain throttled lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Report long-running work on ``stream`` (stderr by default).

    On a terminal the line is redrawn in place; otherwise a plain line is written at most
    every ``interval`` seconds (and on every new phase), so CI logs stay short.
    """

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 5.0, enabled: bool = True
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.enabled = enabled
        self._last = 0.0
        self._phase = ""
        self._width = 0
        self._started = time.monotonic()

    def update(self, phase: str, detail: str = "", *, force: bool = False) -> None:
        """Show ``phase`` (a step of the run) and ``detail`` (how far into it)."""
        if not self.enabled:
            return
        now = time.monotonic()
        new_phase = phase != self._phase
        self._phase = phase
        elapsed = now - self._started
        text = f"[{elapsed:6.1f}s] {phase}" + (f" · {detail}" if detail else "")
        if self.tty:
            if not (force or new_phase) and now - self._last < 0.1:
                return
            pad = max(self._width - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            if not (force or new_phase) and now - self._last < self.interval:
                return
            self.stream.write(text + "\n")
        self._last = now
        self.stream.flush()

    def done(self, message: str = "") -> None:
        """End the display (clears the line on a terminal) and print ``message``."""
        if not self.enabled:
            return
        if self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        if message:
            self.stream.write(message + "\n")
        self.stream.flush()
