"""A small progress bar on stderr, standard library only.

Redrawn in place on a terminal at most ten times a second; when stderr is not a
terminal (a cron job, a log file, a pipe) it prints a plain line every five seconds
instead, and the final line once.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30


class Progress:
    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "hashes",
        stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._started = time.monotonic()
        # The first line waits one interval too: a quick run prints only its final line,
        # once (a log or a pipe would otherwise get a start line and an end line).
        self._drawn = self._started
        self._interval = 0.1 if self._tty else 5.0
        self._closed = False

    def update(self, count: int = 1, *, total: int | None = None) -> None:
        self.done += count
        if total is not None:
            self.total = total
        now = time.monotonic()
        if now - self._drawn >= self._interval:
            self._draw(now)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._draw(time.monotonic(), final=True)

    def _draw(self, now: float, *, final: bool = False) -> None:
        if not self.enabled:
            return
        self._drawn = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * _WIDTH)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            text = f"{self.label} [{bar}] {self.done}/{self.total} {self.unit} ({rate:,.0f}/s)"
        else:
            text = f"{self.label} {self.done} {self.unit} ({rate:,.0f}/s)"
        if self._tty:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
