"""One line of progress on stderr for commands that can take seconds (calibrate, validate, large sweeps,
derive with a PDF): only when stderr is a terminal and the command prints no JSON, never on stdout.

Hand-written (about forty lines) rather than tqdm: the work here is a few opaque phases (a SciPy fit, a
pdflatex run) plus one counted loop (the sweep's tiles); a labelled phase with elapsed seconds, redrawn by a
background thread, covers both, and the package keeps no dependency for it.

``INFERONOMICS_PROGRESS_DELAY`` (seconds, default 0.5) sets how long a command runs before the line appears;
the tests set 0 so that a real terminal sees it whatever the machine's speed.
"""

from __future__ import annotations

import os
import sys
import threading
import time


class Progress:
    """``with Progress("calibrate", enabled=...) as p: p.phase("fitting"); p.count(done, total)``.

    A daemon thread redraws ``label: phase  42%  3.1 s`` every ``interval`` seconds once ``delay`` seconds
    have passed (a quick run shows nothing); on exit the line is erased, so the terminal keeps only results."""

    def __init__(self, label: str, *, enabled: bool, stream=None, delay: float = 0.5, interval: float = 0.2):
        self.label, self.enabled, self.delay, self.interval = label, enabled, delay, interval
        self.stream = stream if stream is not None else sys.stderr
        self.text, self.width = "", 0
        self.fraction: float | None = None
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread: threading.Thread | None = None

    def phase(self, text: str) -> None:
        self.text, self.fraction = text, None

    def count(self, done: float, total: float) -> None:
        self.fraction = done / total if total else None

    def _draw(self) -> None:
        share = f"  {self.fraction:4.0%}" if self.fraction is not None else ""
        line = f"{self.label}: {self.text}{share}  {time.monotonic() - self._t0:.1f} s"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        while not self._stop.is_set():
            self._draw()
            self._stop.wait(self.interval)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True, name="inferonomics-progress")
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            if self.width:  # erase what was drawn
                self.stream.write("\r" + " " * self.width + "\r")
                self.stream.flush()


def progress(args, label: str, **kw) -> Progress:
    """A Progress for a command: on only when stderr is a terminal and ``--json`` is not given."""
    tty = getattr(sys.stderr, "isatty", lambda: False)()
    try:
        kw.setdefault("delay", max(0.0, float(os.environ.get("INFERONOMICS_PROGRESS_DELAY", "0.5"))))
    except ValueError:  # a malformed value never stops a command
        pass
    return Progress(f"inferonomics {label}", enabled=bool(tty) and not getattr(args, "json", False), **kw)
