"""Error statistics of predictions against measurements: rows, MAPE, median and p90 absolute % error."""

from __future__ import annotations

import numpy as np


def abs_pct_error(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(predicted) / np.asarray(measured) - 1.0) * 100.0


def error_stats(predicted: np.ndarray, measured: np.ndarray, lines: np.ndarray | None = None,
                label: np.ndarray | None = None) -> dict[str, object]:
    """{"rows", "mape_pct", "median_abs_pct_error", "p90_abs_pct_error"} (+ "worst" when ``lines`` given)."""
    e = abs_pct_error(predicted, measured)
    if e.size == 0:
        return {"rows": 0, "mape_pct": None, "median_abs_pct_error": None, "p90_abs_pct_error": None}
    out: dict[str, object] = {"rows": int(e.size), "mape_pct": round(float(e.mean()), 3),
                              "median_abs_pct_error": round(float(np.median(e)), 3),
                              "p90_abs_pct_error": round(float(np.percentile(e, 90)), 3)}
    if lines is not None:
        i = int(np.argmax(e))
        worst: dict[str, object] = {"line": int(lines[i]), "predicted_s": float(predicted[i]),
                                    "measured_s": float(measured[i]), "abs_pct_error": round(float(e[i]), 2)}
        if label is not None:
            worst["file"] = str(label[i])
        out["worst"] = worst
    return out
