"""Benchmark of the sweep (not collected by pytest): run ``python tests/benchmarks/bench_sweep.py``.

Prints the median configurations per second on one core of the serving-model sweep (in-flight prefill, the
default `sweep`), target >= 10 M/s, for a large and a small model on three cards x two precisions x TP 1..8,
batch 1..4096 x 64 contexts; beside it, for reference, the closed-form (--ideal) sweep and the serving model
called point by point over arrays (``serving_step.tpot`` on the whole grid, what a sweep without the
grouping would do).
"""

from __future__ import annotations

import os
import statistics

from inferonomics.optimize import serving_step
from inferonomics.optimize.constraints import Workload
from inferonomics.optimize.space import build_space
from inferonomics.optimize.sweep import parse_range, sweep

REPEATS = 7
CARDS, PRECISIONS = ["h100-sxm", "h200-sxm", "b200"], ["bf16", "fp8"]


def median_rate(fn) -> tuple[float, int]:
    fn()  # warm-up: compile the expressions, load the catalog and calibrations
    runs = [fn() for _ in range(REPEATS)]
    return statistics.median(r.configs_per_s for r in runs), runs[0].configs


def main() -> None:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    except (AttributeError, OSError):
        pass
    batch, context = parse_range("1:4096", "b"), parse_range("512:32768:64", "c")
    wl = Workload(1024, 1024)
    for model in ("llama3.1-70b", "llama3.1-8b", "qwen3-30b-a3b"):
        space = build_space(model, CARDS, PRECISIONS)
        rate, n = median_rate(lambda: sweep(space, [1, 2, 4, 8], batch, context, workload=wl, serving=True))
        print(f"sweep, serving model with in-flight prefill, {model}, one core: {n:,} configs, median "
              f"{rate / 1e6:.1f} M configs/s [target >= 10 M/s]")
    ideal = build_space("llama3.1-70b", CARDS, PRECISIONS, ideal=True)
    rate, n = median_rate(lambda: sweep(ideal, [1, 2, 4, 8], batch, context))
    print(f"sweep, closed form (--ideal), llama3.1-70b, one core: {n:,} configs, median {rate / 1e6:.1f} M configs/s")
    spec = serving_step.spec_for("llama3.1-70b", "h100-sxm", "fp8")
    b, c = batch[:, None], context[None, :]

    class Rate:  # the serving model called on the whole grid at once, for comparison
        def __init__(self):
            import time

            t0 = time.perf_counter()
            serving_step.tpot(spec, 4, b, 1024.0, 1024.0, context=c)
            self.configs = b.size * c.size
            self.configs_per_s = self.configs / (time.perf_counter() - t0)

    rate, n = median_rate(Rate)
    print(f"reference: serving_step.tpot over the whole batch x context grid at once, one core: {n:,} configs, "
          f"median {rate / 1e6:.2f} M configs/s")


if __name__ == "__main__":
    main()
