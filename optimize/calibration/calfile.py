"""Write and read calibration files (TOML, written by tomli-w): fitted parameters with uncertainties, their provenance
(data files with sha256 and row counts, hardware, date) and the fit quality."""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from inferonomics.optimize.calibration.intervals import Trend
from inferonomics.symbolic.errors import SpecError
from inferonomics.symbolic.readfile import read_text
from inferonomics.symbolic.symbols import TABLE

#: bumped whenever the set or meaning of the fitted parameters changes; other versions are refused
CALIBRATION_SCHEMA_VERSION = "inferonomics-calibration-12"



@dataclass(frozen=True)
class Parameter:
    value: float
    uncertainty: float


@dataclass(frozen=True)
class SourceFile:
    """Provenance of one measurement file: its path (as read, or relative in a calibration file), sha256 and
    number of data rows."""

    path: str | Path
    sha256: str
    rows: int


@dataclass(frozen=True)
class Calibration:
    """A calibration: fitted symbol values for one card, with provenance and fit quality."""

    model_version: str
    hardware: str
    date: str
    converged: bool
    parameters: dict[str, Parameter]
    sources: tuple[SourceFile, ...] = ()
    quality: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    message: str = ""
    ceilings: str = "datasheet"  # the rates the efficiencies are fractions of: "datasheet" or "measured"
    #: parameters the fit's data did not constrain (they hold their starting values), with the reason
    unconstrained: dict[str, str] = field(default_factory=dict)
    #: kind -> (lo, hi) bounds of log(measured/predicted) at the intervals' level, from the fit rows
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: kind -> bounds along a covariate of each row (:class:`.intervals.Trend`), where the fit rows trend along it
    interval_trends: dict[str, Trend] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        return {k: p.value for k, p in self.parameters.items()}

    def apply(self, values: dict[str, float], *, precision: str = "bf16",
              backend: str = "trtllm") -> dict[str, float]:
        """A copy of the symbol-value dict ``values`` with the fitted symbols set.

        ``eta_flop`` takes the fitted fraction at ``precision`` (fp8 -> ``eta_flop_fp8``); ``overhead_s`` takes the
        serving ``backend``'s step overhead and ``layer_overhead_s`` is 0 (engines fuse the elementwise ops;
        their per-layer cost is the fixed time of each kernel, ``kernel_overhead_s`` and ``attn_kernel_s``);
        ``link_latency_s`` is the fitted hop latency and ``link_bandwidth_bytes_per_s``, when present, is
        scaled by the fitted ``eta_link`` (datasheet link bandwidth -> achieved bus bandwidth).
        """
        out = dict(values)
        fitted = self.values
        out.update({k: v for k, v in fitted.items() if k in TABLE})
        if precision.startswith("fp8") and "eta_flop_fp8" in fitted:
            out["eta_flop"] = fitted["eta_flop_fp8"]
        from inferonomics.symbolic.symbols import BACKEND_OVERHEADS  # noqa: PLC0415 - SymPy only when applied

        step_overhead = BACKEND_OVERHEADS[backend].name if backend in BACKEND_OVERHEADS else None
        if step_overhead in fitted:
            out["overhead_s"] = fitted[step_overhead]
        out["layer_overhead_s"] = 0.0  # a serving engine's per-layer cost is its kernels' fixed times
        if "link_bandwidth_bytes_per_s" in values and "eta_link" in fitted:
            out["link_bandwidth_bytes_per_s"] = values["link_bandwidth_bytes_per_s"] * fitted["eta_link"]
        return out


# ------------------------------------------------------------------------------------------ writing
def _no_none(tree: object, where: str) -> None:
    """TOML has no null, and tomli-w refuses None; a None in a calibration is a bug upstream, named here
    (the old hand writer wrote it as an empty string, which read back as a string)."""
    if tree is None:
        raise ValueError(f"calibration field {where} is None (TOML has no null)")
    if isinstance(tree, dict):
        for k, v in tree.items():
            _no_none(v, f"{where}.{k}")
    elif isinstance(tree, (list, tuple)):
        for i, v in enumerate(tree):
            _no_none(v, f"{where}[{i}]")


def _stats(stats: dict[str, object]) -> dict[str, object]:
    """One split's error stats; an empty split has no MAPE etc. (None), which TOML writes by leaving it out."""
    return {k: v for k, v in stats.items() if v is not None}


def dumps(cal: Calibration, attribution: str = "") -> str:
    """The calibration as TOML text (deterministic for given content), written by tomli-w: strings with
    quotes, newlines or control characters are escaped, and nan/inf are TOML's own."""
    import tomli_w  # noqa: PLC0415  (only calibrate writes; every other command only reads)

    head = {"model_version": cal.model_version, "hardware": cal.hardware, "date": cal.date,
            "ceilings": cal.ceilings, "converged": cal.converged, "message": cal.message}
    sections: list[tuple[str, dict[str, object]]] = [
        ("", {"parameters": {name: {"value": float(p.value), "uncertainty": float(p.uncertainty)}
                             for name, p in cal.parameters.items()}})]
    if cal.unconstrained:
        sections.append(("not constrained by the data: these parameters hold their starting values",
                         {"unconstrained": dict(cal.unconstrained)}))
    if cal.intervals:
        sections.append(("log(measured/predicted) bounds of an 80% prediction interval per kind, from the fit rows",
                         {"intervals": {kind: {"lo": float(lo), "hi": float(hi),
                                               **_trend_table(cal.interval_trends.get(kind))}
                                        for kind, (lo, hi) in cal.intervals.items()}}))
    if cal.sources:
        sections.append(("", {"sources": [{"path": str(src.path), "sha256": src.sha256, "rows": int(src.rows)}
                                          for src in cal.sources]}))
    if cal.quality:
        sections.append(("error stats per file:kind and split; a split without rows has only its row count",
                         {"quality": {key: {split: _stats(stats) for split, stats in splits.items()}
                                      for key, splits in cal.quality.items()}}))
    lines = ["# inferonomics calibration: fitted model terms (symbolic/kernels.py) for one card.",
             "# Written by `inferonomics calibrate`; read with inferonomics.optimize.calibration.load_calibration."]
    if attribution:
        lines.append(f"# Data: {' '.join(attribution.split())}")
    _no_none(head, "calibration")
    parts = ["\n".join(lines) + "\n" + tomli_w.dumps(head)]
    for comment, table in sections:  # one table per dump: tomli-w writes no comments, so they go between
        _no_none(table, "calibration")
        parts.append((f"# {comment}\n" if comment else "") + tomli_w.dumps(table))
    return "\n".join(parts)


def _trend_table(trend: Trend | None) -> dict[str, object]:
    if trend is None:
        return {}
    return {"trend": {"by": trend.column, "log2_at": [float(a) for a in trend.at],
                      "lo": [float(v) for v in trend.lo], "hi": [float(v) for v in trend.hi]}}


def _read_trend(where: str, kind: str, b: dict) -> Trend | None:
    t = b.get("trend")
    if t is None:
        return None
    try:
        trend = Trend(str(t["by"]), *(tuple(float(v) for v in t[k]) for k in ("log2_at", "lo", "hi")))
    except (TypeError, ValueError, KeyError):
        trend = None
    if trend is None or not (len(trend.at) == len(trend.lo) == len(trend.hi) >= 1) or not all(
            math.isfinite(lo) and math.isfinite(hi) and lo < hi for lo, hi in zip(trend.lo, trend.hi)) or any(
            b <= a for a, b in zip(trend.at, trend.at[1:])):
        raise SpecError(where, f"intervals.{kind}.trend", "{ by = <column>, log2_at = [increasing numbers], "
                        "lo = [...], hi = [...] } of one length, finite, lo < hi")
    return trend


def write_calibration(cal: Calibration, path: str | Path, attribution: str = "") -> Path:
    """Write ``cal`` to ``path`` atomically: a temporary file in the same folder, then os.replace, so a
    failure (no space, a signal) never leaves a half-written calibration where a reader would find it."""
    out = Path(path)
    text = dumps(cal, attribution)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


# ------------------------------------------------------------------------------------------ reading
@lru_cache(maxsize=8)
def _parsed(text: str) -> dict:
    """The parsed TOML of a calibration file's text, read only below. Cached by the text itself, so an edited
    file is parsed anew: building one optimizer space reads the shipped files once per card and precision, and
    parsing the ~450-line nested tables each time cost 15 ms a read (0.2 s of a 0.25 s warm optimize)."""
    return tomllib.loads(text)


def load_calibration(path: str | Path | None = None, *, hardware: str | None = None) -> Calibration:
    """Read a calibration file; malformed or incompatible -> SpecError. ``path`` None: the shipped fit for
    ``hardware`` (its own, else its architecture sibling's, else the H100's: :mod:`.shipped`); the H100's when
    no card is named."""
    from inferonomics.optimize.calibration.shipped import choose, shipped_path  # noqa: PLC0415

    if path is None:
        ref = shipped_path(choose(_canonical(hardware)).file if hardware else "calibration-h100.toml")
        if not ref.is_file():
            raise SpecError(str(ref), "file", "the shipped default calibration (reinstall inferonomics)")
        text, where = ref.read_text(encoding="utf-8"), str(ref)
    else:
        p = Path(path)
        if not p.exists():
            raise SpecError(p, "file", "an existing calibration TOML file")
        text, where = read_text(p, "file", max_bytes=16 * 1024 * 1024), str(p)
    try:
        doc = _parsed(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(where, "TOML", str(exc)) from exc
    version = doc.get("model_version")
    if version != CALIBRATION_SCHEMA_VERSION:
        raise SpecError(where, "model_version", f"{CALIBRATION_SCHEMA_VERSION!r} (this version of inferonomics), "
                        f"got {version!r}: re-run `inferonomics calibrate`")
    for key in ("hardware", "date", "parameters"):
        if key not in doc:
            raise SpecError(where, key, "present")
    params = {}
    for name, entry in doc["parameters"].items():
        if not isinstance(entry, dict) or "value" not in entry:
            raise SpecError(where, f"parameters.{name}", "{ value = <number>, uncertainty = <number> }")
        try:
            params[name] = Parameter(float(entry["value"]), float(entry.get("uncertainty", math.nan)))
        except (TypeError, ValueError):
            raise SpecError(where, f"parameters.{name}", "numeric value and uncertainty") from None
    _check_parameters(where, params)
    sources = tuple(SourceFile(str(s.get("path", "")), str(s.get("sha256", "")), int(s.get("rows", 0)))
                    for s in doc.get("sources", []))
    unconstrained = doc.get("unconstrained", {})
    if not isinstance(unconstrained, dict) or any(n not in params for n in unconstrained):
        raise SpecError(where, "unconstrained", "a table of parameter names -> reasons")
    bounds, trends = {}, {}
    for kind, b in dict(doc.get("intervals", {})).items():
        try:
            lo, hi = float(b["lo"]), float(b["hi"])
        except (TypeError, ValueError, KeyError):
            raise SpecError(where, f"intervals.{kind}", "{ lo = <number>, hi = <number> }") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise SpecError(where, f"intervals.{kind}", f"finite bounds with lo < hi, got [{lo:g}, {hi:g}]")
        bounds[str(kind)] = (lo, hi)
        trend = _read_trend(where, str(kind), b)
        if trend is not None:
            trends[str(kind)] = trend
    return Calibration(str(version), str(doc["hardware"]), str(doc["date"]), bool(doc.get("converged", True)),
                       params, sources, dict(doc.get("quality", {})), str(doc.get("message", "")),
                       str(doc.get("ceilings", "datasheet")), {str(k): str(v) for k, v in unconstrained.items()},
                       bounds, trends)


def _canonical(hardware: str) -> str:
    from inferonomics.symbolic import catalog  # noqa: PLC0415

    return catalog.hardware(hardware).name


def calibration_for(hardware: str, path: str | Path | None = None) -> tuple[Calibration, str]:
    """The calibration a prediction for catalog ``hardware`` uses, and a sentence saying which and how it
    was carried over (every output that uses a calibration prints it)."""
    from inferonomics.optimize.calibration.shipped import Choice, choose  # noqa: PLC0415

    name = _canonical(hardware)
    if path is not None:
        cal = load_calibration(path)
        return cal, Choice(cal.hardware, str(path), "user file").describe(name)
    choice = choose(name)
    return load_calibration(hardware=name), choice.describe(name)


def _check_parameters(where: str, params: dict[str, Parameter]) -> None:
    """Every parameter of this model version is present, known, finite and inside its physical range (an
    efficiency in (0, 1], a time >= 0...): a hand-edited or truncated file is refused, never half-applied."""
    from inferonomics.optimize.calibration.parameters import FIXED, PARAMETERS, physical_range  # noqa: PLC0415

    for name in (*PARAMETERS, *FIXED):
        if name not in params:
            raise SpecError(where, f"parameters.{name}", "present (the file lacks it: re-run `inferonomics calibrate`)")
    for name, p in params.items():
        bounds = physical_range(name)
        if bounds is None:
            raise SpecError(where, f"parameters.{name}", f"a parameter of {CALIBRATION_SCHEMA_VERSION} "
                            "(no such parameter)")
        lo, hi = bounds
        slack = 1e-9 * max(abs(lo), abs(hi), 1e-30)
        if not (math.isfinite(p.value) and lo - slack <= p.value <= hi + slack):
            raise SpecError(where, f"parameters.{name}", f"a finite value in [{lo:g}, {hi:g}], got {p.value:g}")
