"""Benchmark of `inferonomics balance` (issue 16). Run: python3 tests/benchmarks/bench_balance.py

Cold-process timings are medians of several fresh interpreters (this machine is shared and noisy); the
issue's target is `balance` cold <= 1 s. `--trend` and `plot balance` are shown for reference.
"""

from __future__ import annotations

import tempfile

from bench_core import cold, median_of, print_rows  # the same cold-process timer and table as bench_core


def main() -> None:
    rows = [("python -c 'import sympy' (the floor, for reference)", median_of(lambda: cold(code="import sympy")), None),
            ("balance --hardware h100-sxm --precision fp8 --json",
             median_of(lambda: cold(argv=["balance", "--hardware", "h100-sxm", "--precision", "fp8", "--json"])), 1.0),
            ("balance --hardware h100-sxm --model llama3.1-70b --json",
             median_of(lambda: cold(argv=["balance", "--hardware", "h100-sxm", "--model", "llama3.1-70b", "--json"])), 1.0),
            ("balance --trend --json", median_of(lambda: cold(argv=["balance", "--trend", "--json"])), None)]
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("plot balance -o x.png", median_of(lambda: cold(argv=["plot", "balance", "-o", f"{tmp}/b.png"]), 3),
                     None))
    print_rows(rows)


if __name__ == "__main__":
    main()
