"""Read measurement directories (ours and NVIDIA's) into typed, validated tables of rows.

Two sources are understood:

* ours (``measure_roofline.py``, ``measure_moe_mixed.py``): ``ceilings.csv``, ``gemm_decode_sweep.csv``,
  ``layer_decode.csv``, ``layer_prefill.csv``, ``moe_decode.csv``, ``mixed_steps.csv`` and ``env.txt``
  naming the device;
* NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0: ``serving_e2e.csv``,
  ``gemm_<system>.csv``, ``collectives.csv``, ``decode_attention.csv``, whose ``system`` column (or, for
  GEMMs, the file name) names the card;
* beside either, ``configs/<org>--<model>.json``: Hugging Face config.json files of models the catalog lacks,
  registered with the catalog's name resolver so that serving rows naming them get an architecture.

Every table is a numpy structured array (fast on the 100k-row GEMM file) with a ``line`` column (the
1-based line in the CSV) and ``latency_s``, the measured time in seconds. Malformed rows raise
:class:`~inferonomics.symbolic.errors.SpecError` naming the file and line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from inferonomics.optimize.calibration.calfile import SourceFile
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import SpecError, UnknownNameError
from inferonomics.symbolic.hf_config import model_from_hf_config
from inferonomics.symbolic.readfile import read_bytes, read_text

#: every kind of row a table can hold
KINDS = ("gemm", "layer_decode", "layer_prefill", "moe_decode", "mixed_step", "serving_tpot", "serving_ttft",
         "collectives", "decode_attention")

#: NVIDIA's system names -> catalog hardware names
SYSTEMS = {"h100_sxm": "h100-sxm", "h200_sxm": "h200-sxm", "b200_sxm": "b200", "gb200": "gb200",
           "b300_sxm": "b300", "gb300": "gb300"}

#: device-name patterns (as CUDA reports them) -> catalog hardware names; first match wins. Variants the catalog
#: lacks map to None (an unknown device), never to a sibling with other rates: H200 NVL and H100 NVL run at other
#: clocks and power, A100 PCIe and 40GB at other bandwidths
_DEVICE_PATTERNS = (
    (r"\bGB300\b", "gb300"), (r"\bGB200\b", "gb200"), (r"\bB300\b", "b300"), (r"\bB200\b", "b200"),
    (r"\b(H200|H100)\b.*\bNVL\b", None), (r"\bA100\b.*(PCIe|40GB)", None),
    (r"\bH200\b", "h200-sxm"), (r"\bH100\b.*PCIe", "h100-pcie"), (r"\bH100\b.*(HBM3|SXM)", "h100-sxm"),
    (r"\bA100\b.*80GB", "a100-sxm"), (r"\bL40S\b", "l40s"), (r"RTX 4090", "rtx-4090"), (r"RTX 5090", "rtx-5090"),
    (r"\bMI355X\b", "mi355x"), (r"\bMI325X\b", "mi325x"), (r"\bMI300X\b", "mi300x"), (r"\bMI250X\b", "mi250x"),
)

NVIDIA_ATTRIBUTION = "NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0"


@dataclass(frozen=True)
class Table:
    """The rows of one file of one kind, all measured on one hardware name."""

    kind: str
    path: Path
    hardware: str
    source: str  # "ours" or "nvidia"
    rows: np.ndarray = field(repr=False)  # structured array with at least `line` and `latency_s`

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class Measurements:
    """Everything read from a measurement directory."""

    root: Path
    tables: tuple[Table, ...]
    files: tuple[SourceFile, ...]
    ceilings: dict[str, float]  # what -> rate (copy TB/s read+write, GEMM TFLOP/s); empty when absent
    ceilings_hardware: str | None = None  # the card they were measured on (env.txt beside them)

    def of_kind(self, kind: str) -> list[Table]:
        return [t for t in self.tables if t.kind == kind]

    @property
    def hardware(self) -> tuple[str, ...]:
        return tuple(sorted({t.hardware for t in self.tables}))

    def of_hardware(self, hardware: str) -> "Measurements":
        """The tables measured on ``hardware`` (same root, files and ceilings: ceilings come with our sweep,
        which is one card's)."""
        return replace(self, tables=tuple(t for t in self.tables if t.hardware == hardware))

    def ceilings_for(self, hardware: str) -> dict[str, float]:
        """The measured ceilings if they were measured on ``hardware`` (else none: another card's copy
        bandwidth must not stand in for this one's datasheet)."""
        return self.ceilings if self.ceilings_hardware in (None, hardware) else {}


def relative_name(path: Path, root: Path) -> str:
    """``path`` from the measurement root, POSIX style (its file name when it lies outside the root)."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def device_to_hardware(device: str) -> str | None:
    """Map a CUDA device name or an NVIDIA system name to a catalog hardware name (None if unknown)."""
    key = device.strip()
    if key.lower() in SYSTEMS:
        return SYSTEMS[key.lower()]
    for pattern, name in _DEVICE_PATTERNS:
        if re.search(pattern, key, flags=re.IGNORECASE):
            return name
    return None


# ------------------------------------------------------------------------------------------ CSV core
def _sha256(path: Path) -> str:
    return hashlib.sha256(read_bytes(path)).hexdigest()


def _read_columns(path: Path, numeric: tuple[str, ...], text: tuple[str, ...] = (),
                  optional: tuple[str, ...] = ()) -> tuple[dict[str, np.ndarray], int]:
    """Read ``path`` into column arrays; required numeric columns must parse, optional ones may be empty."""
    # -sig: a spreadsheet's byte-order mark is no column; read_text refuses devices and non-UTF-8 bytes
    reader = csv.reader(io.StringIO(read_text(path, "file", encoding="utf-8-sig"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SpecError(path, "line 1", "a CSV header") from None
    except csv.Error as exc:
        raise SpecError(path, "line 1", f"a CSV header ({exc})") from None
    body, line_nums = [], []
    try:
        for r in reader:
            if r:  # blank lines carry nothing
                body.append(r)
                line_nums.append(reader.line_num)
    except csv.Error as exc:  # e.g. a field over csv's size limit, a NUL byte
        raise SpecError(path, f"line {reader.line_num}", f"well-formed CSV ({exc})") from None
    lines = np.asarray(line_nums, dtype=np.int64)
    missing = [c for c in (*numeric, *text) if c not in header]
    if missing:
        raise SpecError(path, "line 1", f"columns {', '.join(missing)} (missing from the header)")
    width = len(header)
    for i, r in enumerate(body):
        if len(r) != width:
            raise SpecError(path, f"line {int(lines[i])}", f"{width} fields, got {len(r)}")
    if not body:
        raise SpecError(path, "line 2", "at least one data row")
    index = {c: header.index(c) for c in (*numeric, *text, *optional) if c in header}
    cols: dict[str, np.ndarray] = {}
    for c in numeric:
        raw = [r[index[c]] for r in body]
        cols[c] = _parse_numeric(path, lines, c, raw, required=True)
    for c in optional:
        if c in index:
            cols[c] = _parse_numeric(path, lines, c, [r[index[c]] for r in body], required=False)
        else:
            cols[c] = np.full(len(body), np.nan)
    for c in text:
        cols[c] = np.array([r[index[c]] for r in body])
    for c in (*numeric, *(o for o in optional if o in index)):  # counts, sizes and times: none is negative
        _check_sign(path, lines, c, cols[c], positive=c not in MAY_BE_ZERO)
    cols["line"] = lines
    return cols, len(body)


#: numeric columns where 0 is meaningful (no prompt tokens in a step, no sliding window, the first decode
#: step); every other numeric column is a count, size or time that must be positive
MAY_BE_ZERO = frozenset({"prefill_tokens", "window_size", "step", "decode_batch", "decode_context", "kv_bytes_read",
                         "attention_dp_size", "moe_tp_size", "moe_ep_size", "pp_size",
                         # a disaggregated pool's shape: 0 = the engine's default, as in the aggregated columns
                         *(f"{pool}_{c}" for pool in ("prefill", "decode")
                           for c in ("attention_dp_size", "moe_tp_size", "moe_ep_size", "pp_size"))})


def _check_sign(path: Path, lines: np.ndarray, column: str, values: np.ndarray, *, positive: bool) -> None:
    bad = np.flatnonzero(~(values > 0) if positive else ~(values >= 0))
    bad = bad[~np.isnan(values[bad])]  # empty optional cells are NaN, checked where they are needed
    if bad.size:
        i = int(bad[0])
        want = "a positive number" if positive else "a non-negative number"
        raise SpecError(path, f"line {int(lines[i])}", f"column {column}: {want}, got {values[i]:g}")


def _parse_numeric(path: Path, lines: np.ndarray, column: str, raw: list[str], *, required: bool) -> np.ndarray:
    if not required:
        raw = [v if v.strip() else "nan" for v in raw]
    try:
        values = np.asarray(raw, dtype=float)
    except ValueError:
        values = None
    if values is None or (required and not np.all(np.isfinite(values))):
        for i, v in enumerate(raw):
            try:
                ok = np.isfinite(float(v))
            except ValueError:
                ok = False
            if not ok:
                raise SpecError(path, f"line {int(lines[i])}", f"column {column}: a finite number, got {v!r}")
    return values  # type: ignore[return-value]


def _table(kind: str, path: Path, hardware: str, source: str, cols: dict[str, np.ndarray],
           latency_col: str, scale: float) -> Table:
    names = list(cols)
    dtypes = [(n, cols[n].dtype) for n in names] + [("latency_s", float)]
    arr = np.empty(len(cols["line"]), dtype=dtypes)
    for n in names:
        arr[n] = cols[n]
    arr["latency_s"] = cols[latency_col] * scale
    return Table(kind, path, hardware, source, arr)


def _by_system(path: Path, cols: dict[str, np.ndarray]) -> list[tuple[str, dict[str, np.ndarray]]]:
    """A file's rows split by the hardware its `system` column names: (hardware, columns of its rows), in order
    of first appearance. NVIDIA's files may mix cards; each card becomes its own table. Unknown systems are
    errors naming the first line."""
    groups: dict[str, np.ndarray] = {}
    systems = cols["system"]
    for system in dict.fromkeys(systems.tolist()):
        hw = device_to_hardware(str(system))
        if hw is None:
            i = int(np.flatnonzero(systems == system)[0])
            raise SpecError(path, f"line {int(cols['line'][i])}",
                            f"unknown system {str(system)!r} (known: {', '.join(SYSTEMS)})")
        sel = systems == system
        groups[hw] = groups[hw] | sel if hw in groups else sel
    return [(hw, {k: v[sel] for k, v in cols.items()}) for hw, sel in groups.items()]


# ------------------------------------------------------------------------------------------ ours
def _read_env(path: Path) -> str:
    if not path.is_file():
        raise SpecError(path, "device", "env.txt beside our CSVs, naming the device")
    for lineno, text in enumerate(read_text(path, "device").splitlines(), start=1):
        if text.startswith("device:"):
            device = text.split(":", 1)[1].strip()
            hw = device_to_hardware(device)
            if hw is None:
                raise SpecError(path, f"line {lineno}", f"unknown device {device!r}")
            return hw
    raise SpecError(path, "device", "a line 'device: <name>'")


_OURS = {
    "gemm_decode_sweep.csv": ("gemm", ("K", "N", "batch", "batch_run", "median_ms", "weight_bytes", "flops"),
                              ("shape", "dtype"), "median_ms"),
    "layer_decode.csv": ("layer_decode", ("batch", "context", "ms_per_layer", "weight_bytes_per_layer",
                                          "kv_bytes_per_layer", "flops_per_layer"), ("model_shape",), "ms_per_layer"),
    "layer_prefill.csv": ("layer_prefill", ("seq", "median_ms", "flops"), ("model_shape",), "median_ms"),
    "moe_decode.csv": ("moe_decode", ("experts", "top_k", "d_model", "ffn_per_expert", "batch", "experts_touched",
                                      "expected_touched_uniform", "weight_bytes_touched", "flops", "median_ms"),
                       ("shape",), "median_ms"),
    "mixed_steps.csv": ("mixed_step", ("decode_batch", "decode_context", "prefill_tokens", "ms_per_layer",
                                       "weight_bytes_per_layer", "kv_bytes_read", "matmul_flops"),
                        ("model_shape",), "ms_per_layer"),
}


def _read_ceilings(path: Path) -> dict[str, float]:
    cols, _ = _read_columns(path, ("median_ms", "rate"), ("what",))
    return {str(w): float(r) for w, r in zip(cols["what"], cols["rate"])}


# ------------------------------------------------------------------------------------------ NVIDIA's
_SERVING_NUMERIC = ("isl", "osl", "silicon_ttft_ms", "silicon_tpot_ms")
# disaggregated rows leave the aggregated-pool columns empty (NaN here) and fill the prefill_/decode_ ones
_POOL = ("batch_size", "num_workers", "tp_size", "pp_size", "attention_dp_size", "moe_tp_size", "moe_ep_size")
_SERVING_OPTIONAL = ("batch_size", "silicon_concurrency", "tp_size", "pp_size", "attention_dp_size", "moe_tp_size",
                     "moe_ep_size", *(f"{pool}_{c}" for pool in ("prefill", "decode") for c in _POOL))


def _read_serving(path: Path) -> list[Table]:
    cols, _ = _read_columns(path, _SERVING_NUMERIC, ("model_path", "system", "backend", "precision", "mode"),
                            _SERVING_OPTIONAL)
    return [_table(kind, path, hw, "nvidia", part, column, 1e-3) for hw, part in _by_system(path, cols)
            for kind, column in (("serving_tpot", "silicon_tpot_ms"), ("serving_ttft", "silicon_ttft_ms"))]


def _read_nvidia_gemm(path: Path) -> list[Table]:
    system = path.stem[len("gemm_"):]
    hw = device_to_hardware(system)
    if hw is None:
        raise SpecError(path, "file name", f"gemm_<system>.csv with a known system ({', '.join(SYSTEMS)}), "
                        f"got {system!r}")
    cols, _ = _read_columns(path, ("m", "n", "k", "latency_ms"), ("dtype",))
    return [_table("gemm", path, hw, "nvidia", cols, "latency_ms", 1e-3)]


def _read_collectives(path: Path) -> list[Table]:
    cols, _ = _read_columns(path, ("num_gpus", "message_size", "latency_ms"),
                            ("system", "op_name", "kernel_source", "dtype"))
    return [_table("collectives", path, hw, "nvidia", part, "latency_ms", 1e-3)
            for hw, part in _by_system(path, cols)]


def _read_attention(path: Path) -> list[Table]:
    cols, _ = _read_columns(path, ("batch_size", "step", "num_heads", "num_key_value_heads", "head_dim",
                                   "window_size", "latency_ms"), ("system", "attn_dtype", "kv_cache_dtype"))
    return [_table("decode_attention", path, hw, "nvidia", part, "latency_ms", 1e-3)
            for hw, part in _by_system(path, cols)]


_NVIDIA = {"serving_e2e.csv": _read_serving, "collectives.csv": _read_collectives,
           "decode_attention.csv": _read_attention}


# ------------------------------------------------------------------------------------------ directory
def _read_dir(folder: Path, tables: list[Table], files: list[SourceFile], ceilings: dict[str, float]) -> str | None:
    """Read one folder's files into ``tables``/``files``/``ceilings``; returns the card of its ceilings, if any."""
    ours = [folder / name for name in _OURS if (folder / name).is_file()]
    has_ceilings = (folder / "ceilings.csv").is_file()
    hw = _read_env(folder / "env.txt") if ours or (has_ceilings and (folder / "env.txt").is_file()) else None
    for path in ours:
        kind, numeric, text, latency = _OURS[path.name]
        cols, n = _read_columns(path, numeric, text)
        tables.append(_table(kind, path, hw, "ours", cols, latency, 1e-3))  # type: ignore[arg-type]
        files.append(SourceFile(path, _sha256(path), n))
    if (folder / "ceilings.csv").is_file():
        path = folder / "ceilings.csv"
        ceilings.update(_read_ceilings(path))
        files.append(SourceFile(path, _sha256(path), len(ceilings)))
    _read_configs(folder, files)
    for path in sorted(folder.glob("*.csv")):
        reader = _NVIDIA.get(path.name) or (_read_nvidia_gemm if path.name.startswith("gemm_")
                                            and path.name != "gemm_decode_sweep.csv" else None)
        if reader is None:
            continue
        new = reader(path)
        tables.extend(new)
        files.append(SourceFile(path, _sha256(path), sum(len(t) for t in new if t.kind == new[0].kind)))
    return hw if has_ceilings else None


def _read_configs(folder: Path, files: list[SourceFile]) -> None:
    """``configs/<org>--<model>.json``: Hugging Face config.json files of models the catalog lacks, registered
    under ``<org>/<model>`` so that serving rows naming them (``model_path``) resolve to their architecture."""
    for path in sorted((folder / "configs").glob("*.json")):
        name = path.stem.replace("--", "/")
        try:
            catalog.model(name)
            continue  # the catalog's own, sourced entry wins over a copied config
        except UnknownNameError:
            pass
        catalog.register_model(model_from_hf_config(path, name=name))
        files.append(SourceFile(path, _sha256(path), 1))


def read_measurements(directory: str | Path) -> Measurements:
    """Read every known measurement file in ``directory`` and its immediate subdirectories.

    Raises SpecError for a missing or empty directory, a malformed row (file:line) or an unknown device.
    """
    root = Path(directory)
    if not root.is_dir():
        raise SpecError(root, "directory", "an existing directory of measurement CSVs")
    tables: list[Table] = []
    files: list[SourceFile] = []
    ceilings: dict[str, float] = {}
    ceilings_hw = None
    for folder in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        ceilings_hw = _read_dir(folder, tables, files, ceilings) or ceilings_hw
    if not tables:
        raise SpecError(root, "directory", "at least one known measurement CSV (ours or NVIDIA's)")
    return Measurements(root, tuple(tables), tuple(files), ceilings, ceilings_hw)
