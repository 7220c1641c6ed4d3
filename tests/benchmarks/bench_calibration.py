"""Benchmark (not collected by pytest): calibrate and validate times on the whole H100 set, and the
held-out errors per kind. Run: python tests/benchmarks/bench_calibration.py [MEASUREMENTS_DIR]

Data: our H100 sweep and NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

from inferonomics.optimize.calibration import read_measurements
from inferonomics.optimize.calibration.api import calibrate
from inferonomics.optimize.calibration.stats import error_stats
from inferonomics.optimize.calibration.validate import validate


def main(root: Path) -> None:
    t0 = time.perf_counter()
    meas = read_measurements(root)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cal = calibrate(meas, hardware="h100-sxm", date="2026-11-26")
        t_cal = time.perf_counter() - t0
        t0 = time.perf_counter()
        b200 = calibrate(meas, hardware="b200", date="2026-11-26", prior=cal)
        t_b200 = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = validate(meas)  # each card with its own shipped calibration
    summary = result.summary
    t_val = time.perf_counter() - t0
    rows = sum(len(t) for t in meas.tables)
    print(f"read      {t_read:6.2f} s  for {rows} rows: {t_read / rows * 1e6:.2f} us per row "
          f"(target <= 10 us: 3 s for the H100 data's 300k rows)")
    print(f"calibrate {t_cal:6.2f} s  (target <= 60 s), converged: {cal.converged}")
    print(f"calibrate --hardware b200 (kernel rows, H100 prior) {t_b200:6.2f} s  (target <= 60 s), "
          f"converged: {b200.converged}")
    print(f"validate  {t_val:6.2f} s  (target <= 10 s)")
    v = cal.values
    print(f"serving terms: prefill_in_decode_sglang {v['prefill_in_decode_sglang']:.3f} (fitted), "
          f"kv_memory_fraction {v['kv_memory_fraction']:.2f} (fixed)")
    print(f"{'held-out':28s} {'rows':>7s} {'MAPE%':>7s} {'med%':>7s} {'p90%':>7s}")

    def row(name, q):
        f = lambda x: "      -" if x is None else f"{x:7.2f}"  # noqa: E731
        print(f"{name:28s} {q['rows']:7d} {f(q['mape_pct'])} {f(q['median_abs_pct_error'])} "
              f"{f(q['p90_abs_pct_error'])}")

    for card, kinds in summary["held_out"]["by_card"].items():
        for kind, q in kinds.items():
            row(f"{kind}@{card}", q)
    for name, q in summary["subsets"].items():
        row(name, q["held_out"])
    for table, pred, _, _, ok, test in result.rows:  # NVIDIA's GEMMs per dtype, all and decode (m <= 256)
        if table.kind == "gemm" and table.source == "nvidia":
            r = table.rows
            for dt in sorted(set(r["dtype"])):
                for label, sel in (("", ok & test), (" decode", ok & test & (r["m"] <= 256))):
                    m = sel & (r["dtype"] == dt)
                    row(f"gemm {dt}{label}@{table.hardware}", error_stats(pred[m], r["latency_s"][m]))
    print(f"{'80% interval coverage, held out':40s} {'rows':>7s} {'share':>7s}")
    for card, kinds in summary["interval_coverage"].items():
        for kind, c in kinds.items():
            print(f"{kind + '@' + card:40s} {c['rows']:7d} {c['coverage'] * 100:6.1f}%")
    print("in-sample (all rows)")
    for kind, q in summary["by_kind"].items():
        row(kind, q)
    for name, q in summary["subsets"].items():
        row(name, q["all"])


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[3] / "shared" / "measurements"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
