"""Benchmark (not collected by pytest): the serving model's evaluation speed where its callers use it.

CPU times (process time: the machine may be shared) of (1) the serving rows of ``validate`` (``serving_tpot``/``serving_ttft`` over every serving table of the
measurements, each card's shipped calibration), cold (first call, compiling included) and warm; (2) the
optimizer's ``serving_step.tpot``, ``curves`` and ``prefetch`` on Llama-3.1-70B fp8 / DeepSeek-V3 on an H100.
With ``--save FILE`` the timings are written as JSON; with ``--compare FILE`` the ratios old/new are printed
(> 1: faster now). Run: python tests/benchmarks/bench_serving_model.py [--save F | --compare F] [MEAS_DIR]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from inferonomics.optimize import serving_step
from inferonomics.optimize.calibration import read_measurements
from inferonomics.optimize.calibration.calfile import calibration_for
from inferonomics.optimize.calibration.predict import hardware_env
from inferonomics.optimize.calibration.serving import serving_tpot, serving_ttft


def _best(fn, repeat: int = 5) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def bench(root: Path) -> dict[str, float]:
    meas = read_measurements(root)
    tables = [(t, {**hardware_env(t.hardware), **calibration_for(t.hardware)[0].values})
              for t in meas.tables if t.kind in ("serving_tpot", "serving_ttft")]

    def rows():
        for t, env in tables:
            (serving_tpot if t.kind == "serving_tpot" else serving_ttft)(t.rows, env)

    t0 = time.process_time()
    rows()
    out = {"validate_serving_rows_cold_s": time.process_time() - t0, "validate_serving_rows_warm_s": _best(rows, 3)}
    for model, prec in (("llama3.1-70b", "fp8"), ("deepseek-v3", "fp8")):
        spec = serving_step.spec_for(model, "h100-sxm", prec)
        b = np.arange(1, 257, dtype=float)
        out[f"tpot_{model}_s"] = _best(lambda: serving_step.tpot(spec, 8, b, 1024.0, 512.0))
        out[f"tpot_scalar_{model}_s"] = _best(lambda: serving_step.tpot(spec, 8, 64.0, 1024.0, 512.0))

        def curves():
            serving_step._CURVES.clear()
            for tp in (1, 2, 4, 8, 16):
                serving_step.curves(spec, tp, 1, 1024.0, 512.0, True, 256)

        def prefetch():
            serving_step._CURVES.clear()
            serving_step.prefetch(spec, [(tp, 1, 256) for tp in (1, 2, 4, 8, 16)], 1024.0, 512.0, True)

        out[f"curves_{model}_s"] = _best(curves)
        out[f"prefetch_{model}_s"] = _best(prefetch)
    return out


def main(argv: list[str]) -> None:
    save = compare = None
    if argv[:1] == ["--save"]:
        save, argv = argv[1], argv[2:]
    elif argv[:1] == ["--compare"]:
        compare, argv = argv[1], argv[2:]
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[2].parent / "shared" / "measurements"
    out = bench(root)
    old = json.loads(Path(compare).read_text()) if compare else {}
    for k, v in out.items():
        ratio = f"   old/new {old[k] / v:6.2f}x" if k in old else ""
        print(f"{k:40s} {v * 1e3:10.2f} ms{ratio}")
    if save:
        Path(save).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
