"""Benchmark: `inferonomics export --all --format all` in-process, median of 5 runs, in ms (target <= 5 s).

Not collected by pytest (no ``test_`` prefix). Run: ``python tests/benchmarks/bench_export.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from contextlib import redirect_stderr
from io import StringIO

from inferonomics.optimize.cli import main
from inferonomics.symbolic.formulas import all_formulas

TARGET_MS = 5000.0
RUNS = 5


def run_once(folder: str) -> float:
    start = time.perf_counter()
    with redirect_stderr(StringIO()):
        code = main(["export", "--all", "--format", "all", "-o", folder])
    elapsed = (time.perf_counter() - start) * 1000
    if code != 0:
        raise SystemExit(f"export --all failed with exit code {code}")
    return elapsed


def bench() -> float:
    all_formulas()  # building the records is not the exporters' cost
    times = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(RUNS):
            times.append(run_once(folder))
    return statistics.median(times)


if __name__ == "__main__":
    ms = bench()
    print(f"export --all --format all ({len(all_formulas())} formulas x 6 formats): median of {RUNS} = {ms:.0f} ms"
          f" (target <= {TARGET_MS:.0f} ms)")
    sys.exit(0 if ms <= TARGET_MS else 1)
