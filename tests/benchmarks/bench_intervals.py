"""Prediction intervals: coverage of the held-out rows per card and kind (nominal 80%), and the spread of a
transfer across architectures (the B200's held-out kernel rows predicted with the H100 fit), which
``intervals.TRANSFER`` records.

    python3 tests/benchmarks/bench_intervals.py [MEASUREMENTS_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from inferonomics.optimize.calibration import intervals as I
from inferonomics.optimize.calibration import load_calibration, read_measurements
from inferonomics.optimize.calibration.validate import validate


def main(root: Path) -> None:
    meas = read_measurements(root)
    own = validate(meas).summary["interval_coverage"]
    print(f"{'held-out rows, own shipped fit':40s} {'rows':>7s} {'coverage':>9s} (nominal {I.LEVEL:.0%})")
    for card, kinds in own.items():
        for kind, c in kinds.items():
            print(f"  {kind + '@' + card:38s} {c['rows']:7d} {c['coverage'] * 100:8.1f}%")
    b200 = meas.of_hardware("b200")
    if not b200.tables:
        return
    carried = validate(b200, load_calibration())  # the H100 fit, carried to the B200 by datasheet
    print("across architectures (B200 held-out rows, H100 fit): log(measured/predicted) at "
          f"{(1 - I.LEVEL) / 2:.0%} / {(1 + I.LEVEL) / 2:.0%}")
    acc: dict[str, list[np.ndarray]] = {}
    for table, pred, _, _, ok, test in carried.rows:
        sel = test & ok
        acc.setdefault(table.kind, []).append(np.log(table.rows["latency_s"][sel] / pred[sel]))
    for kind, parts in acc.items():
        lo, hi = I.quantiles(np.concatenate(parts))
        print(f"  {kind:20s} ({lo:+.3f}, {hi:+.3f})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[3] / "shared" / "measurements")
