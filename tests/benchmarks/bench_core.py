"""Benchmark of the core issue's and the derivation issue's numbers. Run: python3 tests/benchmarks/bench_core.py

Cold-process timings are medians of several fresh interpreters, because this machine is shared and
noisy; the targets are the issues' (seed <= 1.5 s, import + every closed form <= 1 s, derive <= 3 s).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 9


def cold(code: str | None = None, argv: list[str] | None = None) -> float:
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "inferonomics.optimize.cli", *argv]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def median_of(fn, n=REPEATS) -> tuple[float, float]:
    """(median, min) of n runs: the median is what the issues ask for; the min shows the machine's
    quiet phase (this VM alternates between phases ~1.5x apart, see the sympy-import baseline)."""
    runs = [fn() for _ in range(n)]
    return statistics.median(runs), min(runs)


def main() -> None:
    rows = []
    rows.append(("python startup (for reference)", median_of(lambda: cold("pass")), None))
    rows.append(("python -c 'import sympy' (the floor, for reference)", median_of(lambda: cold("import sympy")), None))
    rows.append(("inferonomics seed --json, cold process", median_of(lambda: cold(argv=["seed", "--json"])), 1.5))
    rows.append(("import + build every closed form, cold process", median_of(lambda: cold(
        "from inferonomics.symbolic.formulas import all_formulas; all_formulas()")), 1.0))
    with tempfile.TemporaryDirectory() as tmp:
        fresh = [f"{tmp}/{i}" for i in range(REPEATS)]
        rows.append(("derive --no-pdf into an empty folder (renders figures)", median_of(
            lambda: cold(argv=["derive", "--out", fresh.pop(), "--no-pdf"])), 3.0))
        rows.append(("derive --no-pdf over current documents (reuses figures)", median_of(
            lambda: cold(argv=["derive", "--out", tmp + "/w", "--no-pdf"]), 3), 3.0))
    # the committed documents, PDF included (a --no-pdf folder has none to check)
    committed = str(Path(__file__).resolve().parents[2] / "derivations")
    rows.append(("derive --check (the committed documents)", median_of(
        lambda: cold(argv=["derive", "--check", "--out", committed]), 3), None))
    print_rows(rows)


def print_rows(rows) -> None:
    """One line per (what, (median, min), target or None), judged on the median."""
    print(f"{'what':<58} {'median s':>9} {'min s':>7} {'target s':>9}  verdict (on the median)")
    for what, (med, low), target in rows:
        verdict = "" if target is None else ("ok" if med <= target else "OVER")
        print(f"{what:<58} {med:>9.3f} {low:>7.3f} {'' if target is None else f'{target:>9.1f}'}  {verdict}")


if __name__ == "__main__":
    main()
