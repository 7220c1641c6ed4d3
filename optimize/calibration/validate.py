"""Predict every measured row from the catalog's datasheet figures plus a calibration, and report errors
per file and kind (rows, MAPE, median and p90 absolute % error, worst row), all rows and held-out rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferonomics.optimize.calibration.calfile import Calibration
from inferonomics.optimize.calibration.predict import hardware_env, predict_table
from inferonomics.optimize.calibration.readers import KINDS, NVIDIA_ATTRIBUTION, Measurements, relative_name
from inferonomics.optimize.calibration.split import decode_gemm_rows, held_out, usable
from inferonomics.optimize.calibration.stats import error_stats


@dataclass
class ValidationResult:
    """Error summaries (``summary``, JSON-ready) and the points behind them (for plots)."""

    summary: dict[str, Any]  # a JSON tree: its readers index it by the keys validate writes
    points: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # kind -> (measured, predicted)
    #: per table: (table, predicted, lo, hi, usable, held out), for row-level output
    rows: list[tuple] = field(default_factory=list)


def _aggregate(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, object]:
    if not parts:
        return error_stats(np.empty(0), np.empty(0))
    pred = np.concatenate([p[0] for p in parts])
    meas = np.concatenate([p[1] for p in parts])
    lines = np.concatenate([p[2] for p in parts])
    files = np.concatenate([p[3] for p in parts])
    return error_stats(pred, meas, lines, files)


def moe_uniform_check(meas: Measurements) -> dict[str, object] | None:
    """Largest relative gap between experts touched and the uniform expectation E(1-(1-k/E)^B)."""
    tables = meas.of_kind("moe_decode")
    if not tables:
        return None
    r = np.concatenate([t.rows for t in tables])
    e, k, b = r["experts"], r["top_k"], r["batch"]
    expected = e * (1 - (1 - k / e) ** b)
    gap = np.abs(r["experts_touched"] - expected) / expected
    return {"rows": int(len(r)), "max_rel_gap_pct": round(float(gap.max() * 100), 2),
            "mean_rel_gap_pct": round(float(gap.mean() * 100), 2),
            "expected_column_matches_formula": bool(np.allclose(expected, r["expected_touched_uniform"], rtol=1e-3,
                                                                atol=1e-3))}


def validate(meas: Measurements, calibration: Calibration | None = None, *,
             use_measured_ceilings: bool | None = None) -> ValidationResult:
    """Compare predictions with every usable row of ``meas``; each table on its own card's datasheet, with
    ``calibration`` or (None) each card's shipped calibration (:func:`.calfile.calibration_for`).

    ``use_measured_ceilings`` (default: as the calibration was fitted) takes ceilings.csv's copy bandwidth
    and GEMM rates as the rates the fitted efficiencies scale; a datasheet-fitted calibration applied to
    measured ceilings double-counts the gap, so fit with ``calibrate --use-measured-ceilings`` to compare.
    """
    from inferonomics.optimize.calibration.calfile import calibration_for  # noqa: PLC0415

    cards = {hw: ((calibration, f"calibration fitted on {calibration.hardware}") if calibration is not None
                  else calibration_for(hw)) for hw in meas.hardware}
    if use_measured_ceilings is None:
        use_measured_ceilings = any(cal.ceilings == "measured" for cal, _ in cards.values())
    all_parts, test_parts = [], []
    by_kind: dict[str, list] = {k: [] for k in KINDS}
    by_kind_test: dict[str, list] = {k: [] for k in KINDS}
    by_card_test: dict[str, dict[str, list]] = {}  # card -> kind -> held-out parts: each card judged on its own
    by_file: dict[str, dict[str, object]] = {}
    points: dict[str, tuple[list, list]] = {}
    keys = _file_keys(meas)
    subset_parts: dict[str, dict[str, list]] = {}
    row_parts: list[tuple] = []
    for table in meas.tables:
        ceilings = meas.ceilings_for(table.hardware) if use_measured_ceilings else None
        env = {**hardware_env(table.hardware, ceilings), **cards[table.hardware][0].values}
        pred = predict_table(table, env)
        ok = usable(table, pred)
        test = ok & held_out(table)
        lo, hi = _interval(pred, table, cards[table.hardware][0], calibration is None)
        row_parts.append((table, pred, lo, hi, ok, test))
        r = table.rows
        label = np.full(len(r), table.path.name)
        part = (pred[ok], r["latency_s"][ok], r["line"][ok], label[ok])
        tpart = (pred[test], r["latency_s"][test], r["line"][test], label[test])
        all_parts.append(part)
        test_parts.append(tpart)
        by_kind[table.kind].append(part)
        by_kind_test[table.kind].append(tpart)
        by_card_test.setdefault(table.hardware, {}).setdefault(table.kind, []).append(tpart)
        by_file[keys[id(table)]] = {"hardware": table.hardware, "all": _aggregate([part]),
                                                      "held_out": _aggregate([tpart]),
                                                      # rows of kernels, models or modes the model does not
                                                      # cover: counted here, never predicted
                                                      "not_predicted": int((~np.isfinite(pred)).sum())}
        _add_subsets(subset_parts, table, pred, ok)
        mp = points.setdefault(table.kind, ([], []))
        mp[0].append(part[1])
        mp[1].append(part[0])
    summary: dict[str, Any] = dict(_aggregate(all_parts))
    summary["by_kind"] = {k: _aggregate(v) for k, v in by_kind.items() if v}
    summary["held_out"] = {"all": _aggregate(test_parts),
                           "by_kind": {k: _aggregate(v) for k, v in by_kind_test.items() if v},
                           "by_card": {hw: {k: _aggregate(v) for k, v in kinds.items()}
                                       for hw, kinds in sorted(by_card_test.items())}}
    summary["subsets"] = {key: {split: error_stats(np.concatenate([p for p, _ in v]), np.concatenate([m for _, m in v]))
                                for split, v in acc.items()} for key, acc in subset_parts.items()}
    summary["by_file"] = by_file
    summary["interval_coverage"] = _coverage(row_parts)
    summary["calibration"] = {hw: {"hardware": cal.hardware, "model_version": cal.model_version,
                                   "date": cal.date, "used": note} for hw, (cal, note) in cards.items()}
    summary["measured_ceilings"] = bool(use_measured_ceilings and any(meas.ceilings_for(h) for h in meas.hardware))
    summary["moe_uniform_check"] = moe_uniform_check(meas)
    if any(t.source == "nvidia" for t in meas.tables):
        summary["attribution"] = NVIDIA_ATTRIBUTION
    pts = {k: (np.concatenate(v[0]), np.concatenate(v[1])) for k, v in points.items()}
    return ValidationResult(summary, pts, row_parts)


def _interval(pred: np.ndarray, table, cal: Calibration, shipped: bool) -> tuple[np.ndarray, np.ndarray]:
    """The prediction interval of each row: its calibration's bounds for the kind (at the row's covariate where
    they follow one), or where the card borrows another card's fit, the spread measured for that kind of transfer
    (NaN where neither exists)."""
    from inferonomics.optimize.calibration import intervals as I  # noqa: PLC0415
    from inferonomics.optimize.calibration.shipped import choose  # noqa: PLC0415

    bounds, trend = cal.intervals.get(table.kind), cal.interval_trends.get(table.kind)
    if shipped and choose(table.hardware).transfer != "own card":
        bounds, trend = I.TRANSFER.get(table.kind, bounds), None
    if bounds is None:
        nan = np.full(len(pred), np.nan)
        return nan, nan
    return I.apply_rows(pred, table.rows, bounds, trend)


def _coverage(row_parts: list[tuple]) -> dict[str, dict[str, object]]:
    """Per card and kind: the share of held-out rows inside their prediction interval (nominal: LEVEL)."""
    from inferonomics.optimize.calibration import intervals as I  # noqa: PLC0415

    acc: dict[tuple[str, str], list] = {}
    for table, _, lo, hi, _, test in row_parts:
        acc.setdefault((table.hardware, table.kind), []).append(
            (table.rows["latency_s"][test], lo[test], hi[test]))
    out: dict[str, dict[str, object]] = {}
    for (hw, kind), parts in sorted(acc.items()):
        m, lo, hi = (np.concatenate(x) for x in zip(*parts))
        cov = I.coverage(m, lo, hi)
        if cov is not None:
            out.setdefault(hw, {})[kind] = {"rows": int(m.size), "coverage": round(cov, 4), "level": I.LEVEL}
    return out


def rows_csv(result: ValidationResult, root) -> str:
    """One CSV row per measured row: where it is, what was predicted (with its interval) and measured, whether
    it is held out, and the row's own configuration columns (the union over kinds; empty where a kind has none)."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    from inferonomics.optimize.calibration.readers import relative_name  # noqa: PLC0415

    fixed = ["file", "line", "kind", "hardware", "predicted_s", "measured_s", "lo_s", "hi_s", "usable", "held_out"]
    config: list[str] = []
    for table, *_ in result.rows:
        config += [c for c in table.rows.dtype.names if c not in ("line", "latency_s") and c not in config]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(fixed + config)
    for table, pred, lo, hi, ok, test in result.rows:
        r = table.rows
        name = relative_name(table.path, root)
        cols = [r[c] if c in r.dtype.names else None for c in config]
        for i in range(len(r)):
            w.writerow([name, int(r["line"][i]), table.kind, table.hardware, _g(pred[i]), _g(r["latency_s"][i]),
                        _g(lo[i]), _g(hi[i]), int(ok[i]), int(test[i])]
                       + ["" if c is None else _cell(c[i]) for c in cols])
    return buf.getvalue()


def _g(x) -> str:
    return "" if not np.isfinite(x) else repr(float(x))


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else repr(float(v))
    return str(v)


def _file_keys(meas: Measurements) -> dict[int, str]:
    """``<file>:<kind>`` per table; ``@<hardware>`` is added where that key would name several tables (a file
    mixing cards, or one file name in two card folders), and the path from the root where even that repeats."""
    def count(keys: list[str]) -> dict[str, int]:
        return {k: keys.count(k) for k in keys}

    base = [f"{t.path.name}:{t.kind}" for t in meas.tables]
    n = count(base)
    keys = [k + f"@{t.hardware}" if n[k] > 1 else k for k, t in zip(base, meas.tables)]
    n = count(keys)
    keys = [k if n[k] == 1 else f"{relative_name(t.path, meas.root)}:{t.kind}@{t.hardware}"
            for k, t in zip(keys, meas.tables)]
    return {id(t): k for t, k in zip(meas.tables, keys)}


def _add_subsets(parts: dict[str, dict[str, list]], table, pred: np.ndarray, ok: np.ndarray) -> None:
    """Add ``table``'s rows to the named subsets the targets are stated on (decode GEMMs per source; serving
    TPOT of aggregated rows dense vs MoE; serving TPOT/TTFT aggregated vs disaggregated; TPOT of rows whose
    (decode) pool runs attention DP or expert parallelism), over every table of the directory and per card (``<subset>@<hardware>``: a target is
    stated for one card, and another card's rows must not count against it)."""
    from inferonomics.optimize.calibration.split import is_moe_model  # noqa: PLC0415

    if table.kind not in ("gemm", "serving_tpot", "serving_ttft"):
        return
    r, test = table.rows, held_out(table)
    if table.kind == "gemm":
        groups = {f"decode_gemm_{table.source}": ok & decode_gemm_rows(table)}
    else:  # dense/MoE: aggregated rows; disaggregated and attention-DP/EP rows (decode pool) on their own
        from inferonomics.optimize.calibration.serving import parallel_rows  # noqa: PLC0415
        dis = r["mode"] == "disagg"
        kind = table.kind.removeprefix("serving_")
        groups = {f"serving_{kind}_agg": ok & ~dis, f"serving_{kind}_disagg": ok & dis}
        if kind == "tpot":
            moe = np.array([is_moe_model(str(p)) for p in r["model_path"]])
            groups.update({"serving_tpot_dense": ok & ~dis & ~moe, "serving_tpot_moe": ok & ~dis & moe,
                           "serving_tpot_attention_dp": ok & parallel_rows(r)})
    for name, sel in groups.items():
        for key in (name, f"{name}@{table.hardware}"):
            acc = parts.setdefault(key, {"all": [], "held_out": [], "fit": []})
            for split, mask in (("all", sel), ("held_out", sel & test), ("fit", sel & ~test)):
                acc[split].append((pred[mask], r["latency_s"][mask]))


def validation_png(results: ValidationResult, fmt: str = "png") -> bytes:
    """Predicted against measured on log-log axes, one color per kind, as PNG bytes (``fmt="svg"``: SVG; a
    bare Agg figure: no pyplot state, the caller's matplotlib settings untouched)."""
    import io  # noqa: PLC0415

    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
    from matplotlib.figure import Figure  # noqa: PLC0415

    fig = Figure(figsize=(7, 6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lo, hi = np.inf, 0.0
    for kind, (meas, pred) in sorted(results.points.items()):
        if meas.size == 0:
            continue
        stride = max(1, meas.size // 4000)  # keep the big files legible
        ax.scatter(meas[::stride], pred[::stride], s=4, alpha=0.5, label=f"{kind} ({meas.size})")
        lo, hi = min(lo, meas.min(), pred.min()), max(hi, meas.max(), pred.max())
    if hi > 0:
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.plot([lo, hi], [lo * 1.2, hi * 1.2], "k:", lw=0.6)
        ax.plot([lo, hi], [lo / 1.2, hi / 1.2], "k:", lw=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("measured time (s)")
    ax.set_ylabel("predicted time (s)")
    ax.set_title("inferonomics validation (dotted: ±20%)")
    ax.legend(fontsize=7, markerscale=3)
    if "attribution" in results.summary:
        fig.text(0.01, 0.005, str(results.summary["attribution"]), fontsize=6)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def plot_validation(results: ValidationResult, path) -> None:
    """:func:`validation_png` written to ``path``."""
    from pathlib import Path  # noqa: PLC0415

    Path(path).write_bytes(validation_png(results))
