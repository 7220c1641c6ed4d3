"""Bad input to every command, as a table: each case must end with exactly one line on stderr that names the
problem, exit code 2 (3 for an infeasible answer), no traceback and no file half-written.

Cases run in-process through ``cli.main`` (fast); signals run in a child process. Paths in a case are
placeholders (``{nonutf8}``, ``{dir}``...) filled from files the ``files`` fixture writes. Cases already in
test_cli_core.py and test_optimize_cli.py are not repeated here.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli_run import run_cli

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
LLAMA = json.loads((FIXTURES / "configs" / "llama.json").read_text())
MIXTRAL = json.loads((FIXTURES / "configs" / "mixtral.json").read_text())

# --- the files cases point at ------------------------------------------------------------------------------


def _formula(expr: dict, args: list[str]) -> str:
    return json.dumps({"schema": "inferonomics.formula/1", "name": "evil", "args": [{"name": a} for a in args],
                      "expr": expr})


def _nested_add(n_nodes: int) -> dict:
    """An Add nest of about ``n_nodes`` symbol nodes, 60 per operation (each under the per-op limit)."""
    node: dict = {"symbol": "x0"}
    for i in range(n_nodes // 60):
        node = {"op": "Add", "args": [node] + [{"symbol": f"x{j}"} for j in range(1, 60)]}
    return node


def _measurements(root: Path, name: str, csv_bytes: bytes) -> Path:
    d = root / name
    d.mkdir()
    (d / "env.txt").write_text("device: NVIDIA H100 80GB HBM3\n")
    (d / "layer_decode.csv").write_bytes(csv_bytes)
    return d


LAYER_HEADER = (b"model_shape,batch,context,mode,ms_per_layer,weight_bytes_per_layer,kv_bytes_per_layer,"
                b"flops_per_layer\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    f: dict[str, Path] = {"tmp": tmp_path}
    (tmp_path / "adir").mkdir()
    f["dir"] = tmp_path / "adir"
    (tmp_path / "d.png").mkdir()
    f["pngdir"] = tmp_path / "d.png"
    f["missing"] = tmp_path / "no-such-file.json"
    f["out"] = tmp_path / "out" / "result.csv"  # never created by a failing case
    f["file"] = tmp_path / "a-file.txt"
    f["file"].write_text("x\n")
    texts = {
        "nonutf8": b"\xff\xfe\x00 not UTF-8 \xc3\x28\n",
        "empty": b"",
        "notjson": b"{not json",
        "array": b"[1, 2]",
        "badtoml": b"name = = 1\n",
        "toml_no_fields": b'name = "x"\n',
        "hf_kv": json.dumps({**LLAMA, "num_key_value_heads": LLAMA["num_attention_heads"] * 2}).encode(),
        "hf_kv_indivisible": json.dumps({**LLAMA, "num_key_value_heads": 5}).encode(),
        "hf_hidden": json.dumps({**LLAMA, "hidden_size": LLAMA["hidden_size"] + 1}).encode(),
        "hf_experts": json.dumps({**MIXTRAL, "num_experts_per_tok": MIXTRAL["num_local_experts"] + 1}).encode(),
        "hf_arch": json.dumps({**LLAMA, "architectures": ["GPT5ForEverything"]}).encode(),
        "hf_negative": json.dumps({**LLAMA, "num_hidden_layers": -3}).encode(),
        "hf_bigint": b'{"architectures": ["LlamaForCausalLM"], "hidden_size": ' + b"9" * 5000 + b"}",
        "pow": _formula({"op": "Pow", "args": [{"int": "7" * 10_000}, {"rational": ["1", "2"]}]}, []).encode(),
        "pow3000": _formula({"op": "Pow", "args": [{"int": "7" * 3_000}, {"rational": ["1", "2"]}]}, []).encode(),
        "flat_add": _formula({"op": "Add", "args": [{"symbol": f"x{i}"} for i in range(100_000)]},
                             [f"x{i}" for i in range(100_000)]).encode(),
        "nested_add": _formula(_nested_add(2_400), [f"x{j}" for j in range(60)]).encode(),
        "wide_mul": _formula({"op": "Mul", "args": [{"symbol": "x"}] * 65}, ["x"]).encode(),
        "many_symbols": _formula({"op": "Add", "args": [{"op": "Add", "args": [{"symbol": f"s{i}_{j}"}
                                                                              for j in range(60)]}
                                                       for i in range(2)]},
                                 [f"s{i}_{j}" for i in range(2) for j in range(60)]).encode(),
        "int_bits": _formula({"op": "Mul", "args": [{"int": "9" * 1000}] * 5}, []).encode(),
        "deep": _formula(_deep(250), ["x"]).encode(),
        "nan_const": b'{"schema": "inferonomics.formula/1", "name": "f", "args": [], "expr": {"float": NaN}}',
        "wrong_schema": b'{"schema": "other/9", "name": "f"}',
        "code_name": _formula({"symbol": "__import__('os')"}, ["x"]).encode(),
        "calibration_version": b"model_version = 999\n",
    }
    for name, data in texts.items():
        f[name] = tmp_path / f"{name}.dat"
        f[name].write_bytes(data)
    f["meas_nonutf8"] = _measurements(tmp_path, "meas_nonutf8", LAYER_HEADER + b"llama,1,512,graph,\xff\xfe,1,1,1\n")
    f["meas_short"] = _measurements(tmp_path, "meas_short", LAYER_HEADER + b"llama,1,512\n")
    f["meas_header"] = _measurements(tmp_path, "meas_header", LAYER_HEADER)
    f["meas_text"] = _measurements(tmp_path, "meas_text", LAYER_HEADER + b"llama,1,512,graph,fast,1,1,1\n")
    f["meas_nul"] = _measurements(tmp_path, "meas_nul", LAYER_HEADER + b"llama,1,512,graph,0.2\x00,1,1,1\n")
    empty = tmp_path / "meas_empty"
    empty.mkdir()
    f["meas_empty"] = empty
    unknown = tmp_path / "meas_device"
    unknown.mkdir()
    (unknown / "env.txt").write_text("device: Abacus 3000\n")
    (unknown / "layer_decode.csv").write_bytes(LAYER_HEADER + b"llama,1,512,graph,0.2,1,1,1\n")
    f["meas_device"] = unknown
    return {k: str(v) for k, v in f.items()}


def _deep(n: int) -> dict:
    node: dict = {"symbol": "x"}
    for _ in range(n):
        node = {"op": "Abs", "args": [node]}
    return node


# --- the table ---------------------------------------------------------------------------------------------

RAW = ["--params", "7e10", "--bytes-per-weight", "2", "--peak-flops", "1e15", "--hbm-bandwidth", "3e12"]
CAT = ["--model", "llama3.1-70b", "--hardware", "h100-sxm"]
DSV3 = ["--model", "deepseek-v3", "--hardware", "h100-sxm", "--precision", "fp8", "--tp", "2"]
OPT = ["--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--ideal",
       "--price-usd-per-hour", "2"]
OPTD = [*OPT, "--tpot-slo-ms", "50", "--demand-tokens-per-s", "1000"]
#: calibrated (the serving model: PP, EP, disaggregation and speculation need it)
OPTC = ["--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--tpot-slo-ms", "50",
        "--demand-tokens-per-s", "1000"]

#: evaluate's numeric flags and, per flag, the bad values not already in test_cli_core.py
EVALUATE_NUMBERS = {
    "--params": ["inf", "abc"], "--active-params": ["0", "-1", "nan", "inf"], "--bytes-per-weight": ["0", "-2", "nan"],
    "--peak-flops": ["0", "-1e15", "nan"], "--hbm-bandwidth": ["0", "inf", "3TB/s"],
    "--price-usd-per-hour": ["0", "-2", "nan"], "--power-w": ["0", "inf"], "--batch": ["0", "-4", "nan", "inf"],
    "--context": ["-1", "nan", "inf"], "--kv-bytes-per-token": ["-1", "nan"], "--tp": ["-2", "nan", "inf", "two"],
    "--prompt-len": ["0", "-5", "nan"], "--output-len": ["0", "inf"], "--layers": ["0", "nan"],
    "--hidden": ["0", "-1"], "--link-latency-s": ["-1e-6", "nan"], "--link-bandwidth": ["0", "nan"],
    "--allreduces-per-layer": ["-1", "inf"], "--overhead-s": ["-1", "nan"],
}

CASES: list[tuple[str, list[str], int, str]] = [
    (f"evaluate {flag} {value}", ["evaluate", *RAW, flag, value], 2, flag)
    for flag, values in EVALUATE_NUMBERS.items() for value in values
]
CASES += [
    # seed, list, show
    ("seed extra argument", ["seed", "now"], 2, "unrecognized"),
    ("seed unknown flag", ["seed", "--fast"], 2, "unrecognized"),
    ("list unknown kind", ["list", "gpus"], 2, "invalid choice"),
    ("list no kind", ["list"], 2, "kind"),
    ("show unknown name", ["show", "h1000"], 2, "unknown catalog entry"),
    ("show nothing", ["show"], 2, "exactly one"),
    ("show two things", ["show", "h100-sxm", "--model-file", "{badtoml}"], 2, "exactly one"),
    ("show missing config", ["show", "--model-config", "{missing}"], 2, "readable file"),
    ("show config is a directory", ["show", "--model-config", "{dir}"], 2, "not a directory"),
    ("show config /dev/zero", ["show", "--model-config", "/dev/zero"], 2, "regular file"),
    ("show config /dev/urandom", ["show", "--model-config", "/dev/urandom"], 2, "regular file"),
    ("show config non-UTF-8", ["show", "--model-config", "{nonutf8}"], 2, "UTF-8"),
    ("show config empty", ["show", "--model-config", "{empty}"], 2, "valid JSON"),
    ("show config not JSON", ["show", "--model-config", "{notjson}"], 2, "valid JSON"),
    ("show config a JSON array", ["show", "--model-config", "{array}"], 2, "JSON object"),
    ("show config kv_heads > heads", ["show", "--model-config", "{hf_kv}"], 2, "num_key_value_heads"),
    ("show config kv_heads not a divisor", ["show", "--model-config", "{hf_kv_indivisible}"], 2,
     "num_key_value_heads"),
    ("show config hidden not divisible by heads", ["show", "--model-config", "{hf_hidden}"], 2, "hidden_size"),
    ("show config experts_per_tok > experts", ["show", "--model-config", "{hf_experts}"], 2, "num_experts_per_tok"),
    ("show config unknown architecture", ["show", "--model-config", "{hf_arch}"], 2, "architectures"),
    ("show config negative layers", ["show", "--model-config", "{hf_negative}"], 2, "num_hidden_layers"),
    ("show config 5000-digit number", ["show", "--model-config", "{hf_bigint}"], 2, "valid JSON"),
    ("show model file malformed TOML", ["show", "--model-file", "{badtoml}"], 2, "TOML"),
    ("show model file non-UTF-8", ["show", "--model-file", "{nonutf8}"], 2, "UTF-8"),
    ("show model file missing fields", ["show", "--model-file", "{toml_no_fields}"], 2, "toml_no_fields"),
    ("show hardware file /dev/zero", ["show", "--hardware-file", "/dev/zero"], 2, "regular file"),
    ("show hardware file a directory", ["show", "--hardware-file", "{dir}"], 2, "not a directory"),
    ("show hardware file empty", ["show", "--hardware-file", "{empty}"], 2, "empty.dat"),
    # evaluate: names, files, combinations, nonsense that used to exit 0
    ("evaluate nothing", ["evaluate"], 2, "--params"),
    ("evaluate unknown model", ["evaluate", "--model", "gpt-7", "--hardware", "h100-sxm"], 2, "unknown model"),
    ("evaluate unknown hardware", ["evaluate", "--model", "llama3.1-8b", "--hardware", "h1000"], 2,
     "unknown hardware"),
    ("evaluate unknown precision", ["evaluate", *CAT, "--precision", "fp3"], 2, "unknown precision"),
    ("evaluate unknown kv precision", ["evaluate", *CAT, "--kv-precision", "int2"], 2, "unknown precision"),
    ("evaluate unknown activation precision", ["evaluate", *CAT, "--activation-precision", "fp64"], 2,
     "unknown precision"),
    ("evaluate model and model file", ["evaluate", *CAT, "--model-file", "{badtoml}"], 2, "--model-file"),
    ("evaluate hardware and hardware file", ["evaluate", *CAT, "--hardware-file", "{badtoml}"], 2,
     "--hardware-file"),
    ("evaluate config non-UTF-8", ["evaluate", "--model-config", "{nonutf8}", "--hardware", "h100-sxm"], 2, "UTF-8"),
    ("evaluate config /dev/zero", ["evaluate", "--model-config", "/dev/zero", "--hardware", "h100-sxm"], 2,
     "regular file"),
    ("evaluate config kv_heads > heads", ["evaluate", "--model-config", "{hf_kv}", "--hardware", "h100-sxm"], 2,
     "num_key_value_heads"),
    ("evaluate hardware file /dev/urandom", ["evaluate", "--model", "llama3.1-8b", "--hardware-file",
                                             "/dev/urandom"], 2, "regular file"),
    ("evaluate --set without =", ["evaluate", *RAW, "--set", "tp"], 2, "KEY=VALUE"),
    ("evaluate --set unknown symbol", ["evaluate", *RAW, "--set", "warp_speed=9"], 2, "unknown symbol"),
    ("evaluate --set text", ["evaluate", *RAW, "--set", "tp=four"], 2, "--set tp"),
    ("evaluate --set nan", ["evaluate", *RAW, "--set", "eta_bw=nan"], 2, "--set eta_bw"),
    ("evaluate --set tp=0.5", ["evaluate", *CAT, "--set", "tp=0.5"], 2, "--set tp"),
    ("evaluate --set tp=2.5 raw", ["evaluate", *RAW, "--set", "tp=2.5"], 2, "--set tp"),
    ("evaluate --set batch=0.5", ["evaluate", *RAW, "--set", "batch=0.5"], 2, "--set batch"),
    ("evaluate --set tp=3 splits no heads", ["evaluate", *CAT, "--set", "tp=3"], 2, "64 attention heads"),
    ("evaluate --tp 3", ["evaluate", *CAT, "--tp", "3"], 2, "64 attention heads"),
    ("evaluate --tp 128", ["evaluate", *CAT, "--tp", "128"], 2, "attention heads"),
    ("evaluate --tp 1e9", ["evaluate", *CAT, "--tp", "1e9"], 2, "attention heads"),
    ("evaluate --tp 16 over the scale-up domain", ["evaluate", *CAT, "--tp", "16"], 2, "scale-up domain (8"),
    ("evaluate --attention-dp on a dense model", ["evaluate", *CAT, "--attention-dp", "2"], 2, "--attention-dp"),
    ("evaluate --ep on a dense model", ["evaluate", *CAT, "--ep", "2"], 2, "--ep"),
    ("evaluate --pp 3 not dividing 80 layers", ["evaluate", *CAT, "--pp", "3"], 2, "80 layers"),
    ("evaluate --pp 2 not dividing DeepSeek's 61", ["evaluate", *DSV3, "--pp", "2"], 2, "61 layers"),
    ("evaluate --ep 9 not dividing 256 experts", ["evaluate", *DSV3, "--ep", "9"], 2, "256 experts"),
    ("evaluate --ep 32 over tp x attention_dp 16", ["evaluate", *DSV3, "--attention-dp", "8", "--ep", "32"], 2,
     "tp x attention_dp = 16"),
    ("evaluate --attention-dp 0", ["evaluate", *DSV3, "--attention-dp", "0"], 2, "--attention-dp"),
    ("evaluate --pp 2 on the closed form", ["evaluate", *CAT, "--ideal", "--pp", "2"], 2, "closed-form"),
    ("evaluate --batch 1e308", ["evaluate", *CAT, "--ideal", "--batch", "1e308"], 2, "--batch 1e+308"),
    ("evaluate --batch 1e308 raw", ["evaluate", *RAW, "--batch", "1e308"], 2, "infinite or NaN"),
    ("evaluate --mixed --prompt-len 1e300", ["evaluate", *CAT, "--mixed", "--prompt-len", "1e300", "--output-len",
                                             "1"], 2, "--isl 1e+300"),
    ("evaluate --ideal and --calibration", ["evaluate", *CAT, "--ideal", "--calibration", "{missing}"], 2,
     "--ideal"),
    ("evaluate --prompt-len 1e300 calibrated", ["evaluate", *CAT, "--prompt-len", "1e300"], 2, "--isl 1e+300"),
    ("evaluate 1e300 params at 1e-300 B/s", ["evaluate", "--params", "1e300", "--bytes-per-weight", "1e300",
                                             "--peak-flops", "1e300", "--hbm-bandwidth", "1e-300"], 2,
     "--params 1e+300"),
    ("evaluate calibration missing", ["evaluate", *CAT, "--calibration", "{missing}"], 2, "calibration TOML"),
    ("evaluate calibration a directory", ["evaluate", *CAT, "--calibration", "{dir}"], 2, "not a directory"),
    ("evaluate calibration /dev/zero", ["evaluate", *CAT, "--calibration", "/dev/zero"], 2, "regular file"),
    ("evaluate calibration non-UTF-8", ["evaluate", *CAT, "--calibration", "{nonutf8}"], 2, "UTF-8"),
    ("evaluate calibration malformed TOML", ["evaluate", *CAT, "--calibration", "{badtoml}"], 2, "TOML"),
    ("evaluate calibration wrong version", ["evaluate", *CAT, "--calibration", "{calibration_version}"], 2,
     "model_version"),
    ("evaluate unknown backend", ["evaluate", *CAT, "--backend", "ollama"], 2, "--backend"),
    ("evaluate 405b at bf16 on one h100", ["evaluate", "--model", "llama3.1-405b", "--hardware", "h100-sxm",
                                           "--precision", "bf16", "--tp", "1"], 3, "do not fit in 80 GB"),
    # derive
    ("derive --out an existing file", ["derive", "--out", "{file}"], 2, "--out"),
    ("derive --check on a file", ["derive", "--check", "--out", "{file}"], 2, "--out"),
    ("derive --check on a missing folder", ["derive", "--check", "--out", "{missing}"], 1, "is missing"),
    # export
    ("export unknown format", ["export", "--all", "--format", "pdf"], 2, "unknown format"),
    ("export unknown formula", ["export", "--formula", "warp_drive", "--format", "json"], 2, "unknown formula"),
    ("export no format", ["export", "--all"], 2, "--format"),
    ("export formula and all", ["export", "--all", "--formula", "utilization", "--format", "json"], 2,
     "not allowed with"),
    ("export neither formula nor all", ["export", "--format", "json"], 2, "one of the arguments"),
    ("export --all onto a file", ["export", "--all", "--format", "json", "-o", "{file}"], 2, "a folder"),
    ("export one file onto a folder", ["export", "--formula", "utilization", "--format", "json", "-o", "{dir}"], 2,
     "not a folder"),
    ("export into a path under a file", ["export", "--formula", "utilization", "--format", "json", "-o",
                                         "{file}/x.json"], 2, "-o"),
    ("export --all under a file", ["export", "--all", "--format", "json", "-o", "{file}/sub"], 2, "-o"),
    # import-formula
    ("import missing file", ["import-formula", "{missing}"], 2, "readable file"),
    ("import a directory", ["import-formula", "{dir}"], 2, "not a directory"),
    ("import /dev/zero", ["import-formula", "/dev/zero"], 2, "regular file"),
    ("import /dev/urandom", ["import-formula", "/dev/urandom"], 2, "regular file"),
    ("import non-UTF-8", ["import-formula", "{nonutf8}"], 2, "UTF-8"),
    ("import empty", ["import-formula", "{empty}"], 2, "valid JSON"),
    ("import not JSON", ["import-formula", "{notjson}"], 2, "valid JSON"),
    ("import a JSON array", ["import-formula", "{array}"], 2, "JSON object"),
    ("import wrong schema", ["import-formula", "{wrong_schema}"], 2, "schema"),
    ("import NaN constant", ["import-formula", "{nan_const}"], 2, "NaN"),
    ("import code as a name", ["import-formula", "{code_name}"], 2, "__import__"),
    ("import sqrt of a 10,000-digit integer", ["import-formula", "{pow}"], 2, "digits"),
    ("import sqrt of a 3,000-digit integer", ["import-formula", "{pow3000}"], 2, "digits"),
    ("import a flat Add of 100k symbols", ["import-formula", "{flat_add}"], 2, "bytes"),
    ("import 2,400 nested nodes", ["import-formula", "{nested_add}"], 2, "nodes"),
    ("import 65 arguments to one Mul", ["import-formula", "{wide_mul}"], 2, "exceed 64"),
    ("import 120 distinct symbols", ["import-formula", "{many_symbols}"], 2, "distinct symbols"),
    ("import 5,000 digits of integers multiplied", ["import-formula", "{int_bits}"], 2, "bits"),
    ("import nesting 250 deep", ["import-formula", "{deep}"], 2, "deeper than 200"),
    # plot
    ("plot gif", ["plot", "roofline", "-o", "{tmp}/p.gif"], 2, ".png or .svg"),
    ("plot no suffix", ["plot", "roofline", "-o", "{tmp}/p"], 2, ".png or .svg"),
    ("plot onto a folder named .png", ["plot", "roofline", "-o", "{pngdir}"], 2, "not a folder"),
    ("plot m4-max roofline", ["plot", "roofline", "--model", "llama3.1-70b", "--hardware", "m4-max", "-o",
                              "{tmp}/p.png"], 2, "peak_flop_per_s"),
    ("plot m4-max cost", ["plot", "cost", "--model", "llama3.1-70b", "--hardware", "m4-max", "-o",
                          "{tmp}/p.png"], 2, "peak_flop_per_s"),
    ("plot hardware without a model", ["plot", "utilization", "--hardware", "h100-sxm", "-o", "{tmp}/p.png"], 2,
     "total_params"),
    ("plot unknown model", ["plot", "users", "--model", "gpt-7", "-o", "{tmp}/p.png"], 2, "unknown model"),
    ("plot --set unknown", ["plot", "users", "--set", "x=1", "-o", "{tmp}/p.png"], 2, "unknown symbol"),
    ("plot config non-UTF-8", ["plot", "roofline", "--model-config", "{nonutf8}", "-o", "{tmp}/p.png"], 2, "UTF-8"),
    ("plot hardware file /dev/zero", ["plot", "roofline", "--hardware-file", "/dev/zero", "-o", "{tmp}/p.png"], 2,
     "regular file"),
    ("plot no -o", ["plot", "roofline"], 2, "-o"),
    # optimize (test_optimize_cli.py covers tpot 0/-5, demand nan/0, two demands, --tp 1,3, no demand ...)
    ("optimize unknown model", ["optimize", "--model", "gpt-7", "--hardware", "h100-sxm", "--tpot-slo-ms", "50",
                                "--demand-tokens-per-s", "1"], 2, "unknown model"),
    ("optimize unknown hardware", ["optimize", *OPTD, "--hardware", "h1000"], 2, "unknown hardware"),
    ("optimize unknown precision", ["optimize", *OPTD, "--precision", "fp3"], 2, "unknown precision"),
    ("optimize unknown kv precision", ["optimize", *OPTD, "--kv-precision", "int2"], 2, "unknown precision"),
    ("optimize demand 1e30", ["optimize", *OPT, "--tpot-slo-ms", "50", "--demand-tokens-per-s", "1e30"], 2,
     "at most 1e+15"),
    ("optimize demand inf", ["optimize", *OPT, "--tpot-slo-ms", "50", "--demand-tokens-per-s", "inf"], 2,
     "--demand-tokens-per-s"),
    ("optimize users 1e30", ["optimize", *OPT, "--tpot-slo-ms", "50", "--users", "1e30", "--minutes-per-day",
                             "10"], 2, "at most 1e+15"),
    ("optimize minutes per day over 1440", ["optimize", *OPT, "--tpot-slo-ms", "50", "--users", "10",
                                            "--minutes-per-day", "2000"], 2, "1440"),
    ("optimize minutes without users", [*(["optimize", *OPTD]), "--minutes-per-day", "5"], 2, "only with --users"),
    ("optimize isl 0", ["optimize", *OPTD, "--isl", "0"], 2, "--isl"),
    ("optimize isl 1e300", ["optimize", *OPTD, "--isl", "1e300"], 2, "(0, 1e+09]"),
    ("optimize osl 2e9", ["optimize", *OPTD, "--osl", "2e9"], 2, "(0, 1e+09]"),
    ("optimize tp 1e300", ["optimize", *OPTD, "--tp", "1e300"], 2, "up to 1,048,576"),
    ("optimize osl nan", ["optimize", *OPTD, "--osl", "nan"], 2, "--osl"),
    ("optimize ttft slo -1", ["optimize", *OPTD, "--ttft-slo-ms", "-1"], 2, "--ttft-slo-ms"),
    ("optimize tpot slo inf", ["optimize", *OPT, "--tpot-slo-ms", "inf", "--demand-tokens-per-s", "1"], 2,
     "--tpot-slo-ms"),
    ("optimize max batch 0", ["optimize", *OPTD, "--max-batch", "0"], 2, "--max-batch"),
    # today's deployment forms (issue 14): shapes, pools and speculation (tests/test_optimize_{parallel,disagg,spec})
    ("optimize pp not dividing the layers", ["optimize", *OPTC, "--pp", "3"], 2, "divisors of the model's 32 layers"),
    ("optimize ep above the experts", ["optimize", *OPTC[:1], "mixtral-8x7b", *OPTC[2:], "--ep", "16"], 2,
     "divisors of the model's 8 experts"),
    ("optimize spec acceptance 1", ["optimize", *OPTC, "--spec-acceptance", "1", "--spec-draft-tokens", "2"], 2,
     "[0, 1)"),
    ("optimize spec draft tokens 0", ["optimize", *OPTC, "--spec-acceptance", "0.5", "--spec-draft-tokens", "0"], 2,
     ">= 1"),
    ("optimize disagg on the ideal model", ["optimize", *OPTD, "--mode", "disagg"], 2, "calibrated serving model"),
    ("optimize max batch 2.5", ["optimize", *OPTD, "--max-batch", "2.5"], 2, "--max-batch"),
    ("optimize activation reserve 1", ["optimize", *OPTD, "--activation-reserve", "1"], 2, "--activation-reserve"),
    ("optimize activation reserve -0.1", ["optimize", *OPTD, "--activation-reserve", "-0.1"], 2,
     "--activation-reserve"),
    ("optimize framework reserve nan", ["optimize", *OPTD, "--framework-reserve-gb", "nan"], 2,
     "--framework-reserve-gb"),
    ("optimize price 0", ["optimize", *OPTD, "--price-usd-per-hour", "h100-sxm=0"], 2, "--price-usd-per-hour"),
    ("optimize price text", ["optimize", *OPTD, "--price-usd-per-hour", "h100-sxm=cheap"], 2,
     "--price-usd-per-hour"),
    ("optimize peak to mean 0", ["optimize", *OPT, "--tpot-slo-ms", "50", "--users", "10", "--minutes-per-day", "5",
                                 "--peak-to-mean", "0"], 2, "--peak-to-mean"),
    ("optimize tokens per minute -1", ["optimize", *OPTD, "--tokens-per-active-minute", "-1"], 2,
     "--tokens-per-active-minute"),
    ("optimize budget 0", ["optimize", *OPTD, "--budget-usd-per-hour", "0"], 2, "--budget-usd-per-hour"),
    ("optimize max chips 1.5", ["optimize", *OPTD, "--max-chips", "h100-sxm=1.5"], 2, "--max-chips"),
    ("optimize max chips without a name", ["optimize", *OPTD, "--max-chips", "4"], 2, "--max-chips"),
    ("optimize tp 0", ["optimize", *OPTD, "--tp", "0"], 2, "--tp"),
    ("optimize tp text", ["optimize", *OPTD, "--tp", "eight"], 2, "--tp"),
    ("optimize tp 3", ["optimize", *OPTD, "--tp", "3"], 2, "attention heads"),
    ("optimize calibration missing", ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm",
                                      "--price-usd-per-hour", "2", "--tpot-slo-ms", "50", "--demand-tokens-per-s",
                                      "1", "--calibration", "{missing}"], 2, "calibration TOML"),
    ("optimize calibration non-UTF-8", ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm",
                                        "--price-usd-per-hour", "2", "--tpot-slo-ms", "50",
                                        "--demand-tokens-per-s", "1", "--calibration", "{nonutf8}"], 2, "UTF-8"),
    ("optimize unknown policy", ["optimize", *OPTD, "--policy", "lazy"], 2, "--policy"),
    ("optimize unknown fleet", ["optimize", *OPTD, "--fleet", "navy"], 2, "--fleet"),
    ("optimize no model", ["optimize", "--hardware", "h100-sxm", "--tpot-slo-ms", "50"], 2, "--model"),
    ("optimize 405b bf16 on one h100", ["optimize", "--model", "llama3.1-405b", "--hardware", "h100-sxm",
                                        "--precision", "bf16", "--ideal", "--price-usd-per-hour", "2", "--tp", "1",
                                        "--tpot-slo-ms", "50", "--demand-tokens-per-s", "1"], 3, "infeasible"),
    # pareto
    ("pareto -o a folder", ["pareto", *OPT, "-o", "{dir}"], 2, "-o"),
    ("pareto -o under a file", ["pareto", *OPT, "-o", "{file}/x.csv"], 2, "-o"),
    ("pareto --plot gif", ["pareto", *OPT, "--plot", "{tmp}/p.gif"], 2, "--plot"),
    ("pareto --plot a folder", ["pareto", *OPT, "--plot", "{dir}"], 2, "--plot"),
    ("pareto isl -1", ["pareto", *OPT, "--isl", "-1"], 2, "--isl"),
    ("pareto isl 1e300", ["pareto", *OPT, "--isl", "1e300"], 2, "--isl"),
    ("pareto unknown model", ["pareto", "--model", "gpt-7", "--hardware", "h100-sxm"], 2, "unknown model"),
    ("pareto empty hardware list", ["pareto", "--model", "llama3.1-8b", "--hardware", ","], 2, "--hardware"),
    ("pareto price for one card of two", ["pareto", "--model", "llama3.1-8b", "--hardware", "h100-sxm,b200",
                                          "--ideal", "--price-usd-per-hour", "h100-sxm=2"], 2, "b200=<$/chip-hour>"),
    ("pareto 405b bf16 on one h100", ["pareto", "--model", "llama3.1-405b", "--hardware", "h100-sxm", "--precision",
                                      "bf16", "--ideal", "--price-usd-per-hour", "2", "--tp", "1"], 3, "infeasible"),
    # users
    ("users target 0", ["users", *OPT, "--tpot-slo-ms", "50", "--target-utilization", "0"], 2,
     "--target-utilization"),
    ("users target 1.5", ["users", *OPT, "--tpot-slo-ms", "50", "--target-utilization", "1.5"], 2,
     "--target-utilization"),
    ("users minutes 2000", ["users", *OPT, "--tpot-slo-ms", "50", "--minutes-per-day", "2000"], 2, "1440"),
    ("users peak to mean nan", ["users", *OPT, "--tpot-slo-ms", "50", "--peak-to-mean", "nan"], 2, "--peak-to-mean"),
    ("users without an SLO", ["users", *OPT], 2, "--tpot-slo-ms"),
    ("users unreachable utilization", ["users", *OPT, "--tpot-slo-ms", "20", "--target-utilization", "1"], 3,
     "infeasible"),
    # sweep
    ("sweep --ep 9 not dividing 256 experts", ["sweep", *DSV3, "--ep", "9", "--batch", "1:4"], 2, "256 experts"),
    ("sweep --ep 32 over tp x attention_dp 16", ["sweep", *DSV3, "--attention-dp", "8", "--ep", "32", "--batch",
                                                "1:4"], 2, "tp x attention_dp = 16"),
    ("sweep --pp 2 not dividing DeepSeek's 61", ["sweep", *DSV3, "--pp", "2"], 2, "61 layers"),
    ("sweep --attention-dp on a dense model", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm",
                                               "--attention-dp", "2"], 2, "--attention-dp"),
    ("sweep --pp 2 with --ideal", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--ideal", "--pp",
                                   "2"], 2, "--pp"),
    ("sweep batch from 0", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "0:10"], 2,
     "--batch"),
    ("sweep batch text", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "a:b"], 2,
     "--batch"),
    ("sweep batch reversed", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "10:1"], 2,
     "--batch"),
    ("sweep batch 0 points", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "1:10:0"], 2,
     "--batch"),
    ("sweep context negative", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--context",
                                "-1:10"], 2, "--context"),
    ("sweep context nan", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--context", "nan"], 2,
     "--context"),
    ("sweep tp 0", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tp", "0"], 2, "--tp"),
    ("sweep dtype float16", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--dtype", "float16"], 2,
     "--dtype"),
    ("sweep -o a folder", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "1:4",
                           "--context", "1:8:2", "-o", "{dir}"], 2, "-o"),
    ("sweep too many rows", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "1:100000",
                             "--context", "1:1000000:1000", "-o", "{out}"], 2, "-o"),
    ("sweep batch up to 1e300", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "1:1e300",
                                 "--summary"], 2, "has 1e+300"),
    ("sweep context to 1e300 in 3 steps", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--context",
                                           "0:1e300:3", "--summary"], 2, "<= 1e+09"),
    ("sweep tp 1e300", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tp", "1e300"], 2,
     "up to 1,048,576"),
    ("sweep unknown model", ["sweep", "--model", "gpt-7", "--hardware", "h100-sxm"], 2, "unknown model"),
    # calibrate and validate
    ("calibrate missing folder", ["calibrate", "--measurements", "{missing}", "-o", "{out}"], 2, "directory"),
    ("calibrate a file as folder", ["calibrate", "--measurements", "{file}", "-o", "{out}"], 2, "directory"),
    ("calibrate empty folder", ["calibrate", "--measurements", "{meas_empty}", "-o", "{out}"], 2,
     "measurement CSV"),
    ("calibrate non-UTF-8 CSV", ["calibrate", "--measurements", "{meas_nonutf8}", "-o", "{out}"], 2, "UTF-8"),
    ("calibrate short row", ["calibrate", "--measurements", "{meas_short}", "-o", "{out}"], 2, "fields"),
    ("calibrate header only", ["calibrate", "--measurements", "{meas_header}", "-o", "{out}"], 2, "data row"),
    ("calibrate text where a number belongs", ["calibrate", "--measurements", "{meas_text}", "-o", "{out}"], 2,
     "ms_per_layer"),
    ("calibrate NUL byte", ["calibrate", "--measurements", "{meas_nul}", "-o", "{out}"], 2, "layer_decode.csv"),
    ("calibrate unknown device", ["calibrate", "--measurements", "{meas_device}", "-o", "{out}"], 2,
     "unknown device"),
    ("calibrate unknown hardware", ["calibrate", "--measurements", "{meas_header}", "--hardware", "h1000", "-o",
                                    "{out}"], 2, "unknown hardware"),
    ("calibrate date not a date", ["calibrate", "--measurements", "{meas_header}", "--date", "yesterday", "-o",
                                   "{out}"], 2, "--date"),
    ("calibrate date 2026-13-40", ["calibrate", "--measurements", "{meas_header}", "--date", "2026-13-40", "-o",
                                   "{out}"], 2, "--date"),
    ("calibrate -o a folder", ["calibrate", "--measurements", "{meas_header}", "-o", "{dir}"], 2, "-o"),
    ("calibrate no -o", ["calibrate", "--measurements", "{meas_header}"], 2, "-o"),
    ("validate missing folder", ["validate", "--measurements", "{missing}"], 2, "directory"),
    ("validate non-UTF-8 CSV", ["validate", "--measurements", "{meas_nonutf8}"], 2, "UTF-8"),
    ("validate short row", ["validate", "--measurements", "{meas_short}"], 2, "fields"),
    ("validate calibration missing", ["validate", "--measurements", "{meas_short}", "--calibration", "{missing}"],
     2, "calibration TOML"),
    ("validate calibration non-UTF-8", ["validate", "--measurements", "{meas_short}", "--calibration",
                                        "{nonutf8}"], 2, "UTF-8"),
    ("validate calibration /dev/zero", ["validate", "--measurements", "{meas_short}", "--calibration",
                                        "/dev/zero"], 2, "regular file"),
    ("validate --plot gif", ["validate", "--measurements", "{meas_short}", "--plot", "{tmp}/v.gif"], 2, "--plot"),
    ("validate --plot a folder", ["validate", "--measurements", "{meas_short}", "--plot", "{dir}"], 2, "--plot"),
    # the top level
    # prices, objectives, backends, flag spellings (the CLI as people use it)
    ("optimize price for one card of two", ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm,b200",
                                            "--ideal", "--price-usd-per-hour", "h100-sxm=2", "--tpot-slo-ms", "50",
                                            "--demand-tokens-per-s", "1000"], 2, "but not for the rest"),
    ("optimize $ objective without prices", ["optimize", *OPT[:-2], "--tpot-slo-ms", "50", "--objective",
                                             "usd_per_mtok"], 2, "chip_hours_per_mtok without prices"),
    ("optimize budget without prices", ["optimize", *OPT[:-2], "--tpot-slo-ms", "50", "--demand-tokens-per-s", "1",
                                        "--budget-usd-per-hour", "100"], 2, "--price-usd-per-hour"),
    ("optimize chips without a demand", ["optimize", *OPT[:-2], "--tpot-slo-ms", "50"], 2, "--demand-tokens-per-s"),
    ("optimize unknown objective", ["optimize", *OPTD, "--objective", "cheapest"], 2, "--objective"),
    ("optimize trtllm on AMD only", ["optimize", "--model", "llama3.1-8b", "--hardware", "mi300x", "--tpot-slo-ms",
                                     "50", "--demand-tokens-per-s", "1000"], 2, "does not run on AMD"),
    ("optimize unknown backend", ["optimize", *OPTD, "--backend", "ollama"], 2, "--backend"),
    ("optimize --prompt-len alias 0", ["optimize", *OPTD, "--prompt-len", "0"], 2, "--prompt-len"),
    ("optimize --output-len alias nan", ["optimize", *OPTD, "--output-len", "nan"], 2, "--output-len"),
    ("optimize --overlap unknown", ["optimize", *OPTD, "--overlap", "lazy"], 2, "--overlap"),
    ("pareto rows 0", ["pareto", *OPT, "--rows", "0"], 2, "--rows"),
    ("users target 150%", ["users", *OPT, "--tpot-slo-ms", "50", "--target-utilization", "150%"], 2,
     "--target-utilization"),
    ("users target percent text", ["users", *OPT, "--tpot-slo-ms", "50", "--target-utilization", "half%"], 2,
     "--target-utilization"),
    ("sweep trtllm on AMD only", ["sweep", "--model", "llama3.1-8b", "--hardware", "mi300x"], 2,
     "does not run on AMD"),
    ("sweep --csv with --json", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--csv", "--json"], 2,
     "--csv"),
    ("sweep --csv too many rows", ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--csv", "--batch",
                                   "1:100000", "--context", "1:1000"], 2, "--csv"),
    ("evaluate --isl 0", ["evaluate", *RAW, "--isl", "0"], 2, "argument --isl"),
    ("evaluate --osl inf", ["evaluate", *RAW, "--osl", "inf"], 2, "argument --osl"),
    ("list hardware unknown flag", ["list", "hardware", "--wide"], 2, "unrecognized"),
    ("no command", [], 2, "required"),
    ("unknown command", ["deploy"], 2, "invalid choice"),
]


run = run_cli


def _fill(argv: list[str], files: dict[str, str]) -> list[str]:
    return [a.format(**files) for a in argv]


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def test_the_matrix_is_large_and_covers_every_command():
    assert len(CASES) >= 150
    assert len({name for name, *_ in CASES}) == len(CASES)  # each a different kind of bad input
    commands = {argv[0] for _, argv, *_ in CASES if argv}
    assert commands >= {"seed", "evaluate", "derive", "export", "import-formula", "plot", "list", "show",
                        "optimize", "pareto", "users", "sweep", "calibrate", "validate"}


@pytest.mark.parametrize("argv, code, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(argv, code, needle, files, capsys):
    t0 = time.perf_counter()
    got, out, err = run(capsys, _fill(argv, files))
    elapsed = time.perf_counter() - t0
    lines = err.strip().splitlines()
    assert got == code, err
    assert len(lines) == 1, err
    assert needle in lines[0], err
    assert "Traceback" not in err
    assert not Path(files["out"]).exists()  # nothing written by a failing command
    assert not _leftovers(Path(files["tmp"]))
    if argv[:1] == ["import-formula"]:
        assert elapsed < 2.0  # hostile formula files are refused fast


# --- outputs: devices, full disks, folders -----------------------------------------------------------------


def _fifo_reader(path: Path, sink: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as f:
            sink.append(f.read())

    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("argv", [
    ["export", "--formula", "utilization", "--format", "json", "-o", "{fifo}"],
    ["plot", "roofline", "-o", "{fifo}.svg"],
], ids=["export", "plot"])
def test_a_non_regular_target_is_written_in_place_never_replaced(argv, tmp_path, capsys):
    """A FIFO stands in for /dev/null (replacing a device as root was the bug): after the run it is still a
    FIFO, and what the command wrote came through it."""
    fifo = tmp_path / ("p.svg" if argv[0] == "plot" else "p")
    os.mkfifo(fifo)
    sink: list[bytes] = []
    reader = _fifo_reader(fifo, sink)
    code, _, err = run(capsys, [a.format(fifo=tmp_path / "p") for a in argv])
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    data = sink[0]
    if argv[0] == "plot":
        assert data.lstrip().startswith(b"<?xml") and b"<svg" in data
    else:
        assert json.loads(data)["name"] == "utilization"
    assert sorted(p.name for p in tmp_path.iterdir()) == [fifo.name]


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullFile:
    """A file on a full disk: opening works, the first write raises ENOSPC."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, data):
        _enospc()


@pytest.fixture
def full_disk(monkeypatch):
    """Every file _io opens for writing (os.fdopen for one file, open for a set) is on a full disk."""
    import builtins

    from inferonomics.optimize.commands import _io

    def fdopen(fd, *a, **k):
        os.close(fd)
        return _FullFile()

    def fake_open(path, mode="r", *a, **k):
        return _FullFile() if "w" in mode else builtins.open(path, mode, *a, **k)

    monkeypatch.setattr(_io.os, "fdopen", fdopen)
    monkeypatch.setattr(_io, "open", fake_open, raising=False)


@pytest.mark.parametrize("argv", [
    ["pareto", *OPT, "-o", "{tmp}/f.csv"],
    ["pareto", *OPT, "--plot", "{tmp}/f.png"],
    ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--batch", "1:4", "--context", "1:8:2", "-o",
     "{tmp}/s.csv"],
    ["plot", "roofline", "-o", "{tmp}/r.png"],
    ["export", "--all", "--format", "json", "-o", "{tmp}/set"],
    ["export", "--formula", "utilization", "--format", "c", "-o", "{tmp}/u.c"],
    ["validate", "--measurements", str(FIXTURES / "measurements" / "good"), "--plot", "{tmp}/v.png"],
], ids=["pareto-csv", "pareto-plot", "sweep", "plot", "export-set", "export-pair", "validate-plot"])
def test_a_full_disk_is_one_line(argv, tmp_path, capsys, full_disk):
    code, _, err = run(capsys, [a.format(tmp=tmp_path) for a in argv])
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "No space left on device" in err
    assert not list(tmp_path.iterdir())  # no half-written file, no temporary


def test_derive_on_a_full_disk(tmp_path, capsys, full_disk, monkeypatch):
    monkeypatch.setattr("inferonomics.optimize.derivation.render_all",
                        lambda **kw: {"a.md": b"x", "figures/f.png": b"\x89PNG"})
    for out in (tmp_path / "new", tmp_path):  # a folder to create, and one that exists
        code, _, err = run(capsys, ["derive", "--out", str(out), "--no-pdf"])
        assert code == 2 and err.count("\n") == 1 and "--out" in err and "No space left on device" in err
        assert not list(tmp_path.iterdir())


def test_dev_full_as_output(tmp_path, capsys, monkeypatch):
    """/dev/full is written in place: the write fails with ENOSPC, one line, exit 2, and the device stays. As
    root a regression would replace the device, so replacing or creating anything in /dev is refused here."""
    from inferonomics.optimize.commands import _io

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    real_replace, real_os_open = os.replace, os.open

    def guarded_replace(src, dst, *a, **k):
        assert not str(dst).startswith("/dev/"), "would replace a device"
        return real_replace(src, dst, *a, **k)

    def guarded_os_open(path, flags, *a, **k):
        assert not (flags & os.O_CREAT and str(path).startswith("/dev/")), "would create a file in /dev"
        return real_os_open(path, flags, *a, **k)

    monkeypatch.setattr(_io.os, "replace", guarded_replace)
    monkeypatch.setattr(_io.os, "open", guarded_os_open)
    before = os.stat("/dev/full")
    code, _, err = run(capsys, ["export", "--formula", "utilization", "--format", "json", "-o", "/dev/full"])
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err


# --- what the commands now say and write -------------------------------------------------------------------


def test_pareto_csv_rows_have_as_many_fields_as_the_header(tmp_path, capsys):
    """fp8 weights on fp8 hardware get the label ``w=fp8,kv=bf16,a=fp8``: it must be quoted."""
    out = tmp_path / "p.csv"
    code, stdout, err = run(capsys, ["pareto", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision",
                                     "fp8", "--ideal", "--price-usd-per-hour", "2", "-o", str(out)])
    assert code == 0, err
    rows = list(csv.reader(out.open(newline="")))
    assert len(rows) > 1 and all(len(r) == len(rows[0]) == 13 for r in rows)
    assert any("," in r[1] for r in rows[1:])  # the comma-holding label, read back as one field
    code, stdout, _ = run(capsys, ["pareto", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision",
                                   "fp8", "--ideal", "--price-usd-per-hour", "2", "--csv"])
    assert all(len(r) == 13 for r in csv.reader(io.StringIO(stdout)))


@pytest.mark.parametrize("argv", [
    ["pareto", *OPT, "--plot", "{out}"],
    ["validate", "--measurements", str(FIXTURES / "measurements" / "good"), "--plot", "{out}"],
], ids=["pareto", "validate"])
def test_plot_svg_is_svg(argv, tmp_path, capsys):
    out = tmp_path / "x.svg"
    code, _, err = run(capsys, [a.format(out=out) for a in argv])
    assert code == 0, err
    head = out.read_bytes()[:200]
    assert head.startswith(b"<?xml") and b"\x89PNG" not in head


def test_evaluate_memory_breakdown_by_hand(capsys):
    """4e11 params x 2 B over TP 4 = 200 GB of weights; KV 10 x 1000 x 1e5 B / 4 = 0.25 GB; reserves 5 % of
    80 GB = 4 GB and 2 GB: 206.25 GB per chip, over 80 GB (exit 3). 1e10 params: 5 + 0.25 + 6 = 11.25 GB fits."""
    base = ["evaluate", "--bytes-per-weight", "2", "--peak-flops", "1e15", "--hbm-bandwidth", "3e12", "--tp", "4",
            "--batch", "10", "--context", "1000", "--kv-bytes-per-token", "1e5", "--set", "hbm_capacity_bytes=8e10",
            "--json"]
    code, out, err = run(capsys, [*base, "--params", "4e11"])
    d = json.loads(out)
    assert code == 3 and d["fits_in_memory"] is False and err.count("\n") == 1 and "80 GB" in err
    m = d["memory_per_chip_gb"]
    assert m["weights"] == pytest.approx(200) and m["kv_cache"] == pytest.approx(0.25)
    assert m["activations"] == pytest.approx(4) and m["reserve"] == pytest.approx(2)
    assert m["total"] == pytest.approx(206.25) and m["hbm"] == pytest.approx(80)
    code, out, err = run(capsys, [*base, "--params", "1e10"])
    d = json.loads(out)
    assert code == 0 and err == "" and d["fits_in_memory"] is True
    assert d["memory_per_chip_gb"]["total"] == pytest.approx(11.25)
    code, out, _ = run(capsys, ["evaluate", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16"])
    assert code == 0 and "fits_in_memory" in out and "memory_per_chip_gb" in out


def test_budget_is_named_when_only_the_budget_fails(capsys):
    """Ideal 8B on one H100: bf16 reads 16 GB per token at 3.35 TB/s, 4.8 ms, missing a 4 ms SLO by 1.2x; fp8
    reads half, 2.4 ms, and meets it, but costs $2/h against a $1/h budget (2x). The closer miss is the SLO, yet
    only the budget stands between the user and an answer: that is what to name."""
    code, _, err = run(capsys, ["optimize", *OPT, "--precision", "bf16,fp8", "--tpot-slo-ms", "4",
                                "--demand-tokens-per-s", "100", "--budget-usd-per-hour", "1"])
    assert code == 3 and err.count("\n") == 1
    assert "budget is $1/h" in err and "fp8" in err and "TPOT" not in err


def test_replicas_for_a_demand_past_two_to_the_53(monkeypatch):
    """The old loop stepped R down one at a time while (R - 1) x rate, a float, still covered the demand: past
    2**53 R - 1 and R are one float and it never stopped. Here R must be ceil(D / rate) (tolerance aside)."""
    from types import SimpleNamespace

    from inferonomics.optimize.solver import replicas_for

    for demand, rate in ((1e30, 1e4), (1e25, 3.0), (100.0, 7.0), (1.0, 5.0)):
        problem = SimpleNamespace(demand=SimpleNamespace(tokens_per_s=demand))
        t0 = time.perf_counter()
        r = replicas_for(None, problem, rate)
        assert time.perf_counter() - t0 < 0.1
        assert r * rate >= demand * (1 - 1e-9)
        if demand / rate < 2**50:  # exact integers: the smallest such R
            assert (r - 1) * rate < demand * (1 - 1e-9)
    assert replicas_for(None, SimpleNamespace(demand=SimpleNamespace(tokens_per_s=100.0)), 7.0) == 15


def test_calibrate_refuses_data_with_no_fitted_row(tmp_path, capsys, monkeypatch):
    """The readers already refuse an empty folder; a Measurements whose tables are all of kinds the fit does not
    use (or of another card) must not be "fitted" either."""
    from dataclasses import replace

    import inferonomics.optimize.calibration as calibration
    from inferonomics.optimize.calibration import read_measurements

    real = read_measurements(FIXTURES / "measurements" / "good")
    empty = replace(real, tables=tuple(replace(t, kind="unfitted_kind") for t in real.tables))
    monkeypatch.setattr(calibration, "read_measurements", lambda d: empty)
    code, _, err = run(capsys, ["calibrate", "--measurements", "x", "-o", str(tmp_path / "c.toml")])
    assert code == 2 and err.count("\n") == 1 and "constrain no parameter" in err
    assert not (tmp_path / "c.toml").exists()


def test_derive_check_says_missing_not_stale(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, ["derive", "--check"])
    assert code == 1 and "derivations is missing" in err and "stale" not in out + err


def test_export_json_lists_what_it_wrote(tmp_path, capsys):
    code, out, _ = run(capsys, ["export", "--formula", "utilization", "--format", "c", "-o",
                                str(tmp_path / "u.c"), "--json"])
    files = json.loads(out)["files"]
    assert code == 0 and sorted(Path(f).name for f in files) == ["u.c", "u.h"]
    assert all(Path(f).is_file() for f in files)
    code, out, _ = run(capsys, ["export", "--formula", "utilization", "--format", "json", "--json"])
    assert json.loads(json.loads(out)["files"][0]["text"])["name"] == "utilization"


# --- signals (child processes) -----------------------------------------------------------------------------

CLI = [sys.executable, "-m", "inferonomics.optimize.cli"]


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    """SIGINT while a long sweep runs: one line, 130, no traceback."""
    # ~2.4 G configurations (three cards x four TP degrees x 200 M): half a minute at the closed form's speed, so the
    # signal lands mid-sweep (the serving model's grid of one card is done within the 4 s)
    proc = subprocess.Popen([*CLI, "sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm,h200,b200", "--tp",
                             "1,2,4,8", "--ideal", "--batch", "1:100000", "--context", "1:1000000:2000", "--summary"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["inferonomics sweep: interrupted"]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_export_all_leaves_no_temporaries(sig, code, tmp_path):
    """Signals at several moments of `export --all --format all`: never a `.tmp` file or folder, and the folder
    is either absent (all or nothing) or complete."""
    from inferonomics.symbolic.formulas import all_formulas

    complete = 7 * len(all_formulas())
    for i, delay in enumerate((None, 1.5, 2.5, 3.5)):
        out = tmp_path / f"run{i}"
        proc = subprocess.Popen([*CLI, "export", "--all", "--format", "all", "-o", str(out)],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        if delay is None:  # the moment the temporary folder appears: mid-write
            t0 = time.time()
            while not _leftovers(tmp_path) and proc.poll() is None and time.time() - t0 < 60:
                time.sleep(0.0005)
        else:
            time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert not _leftovers(tmp_path), err
        assert "Traceback" not in err
        # -sig: the signal came before main() took it over (during start-up, or interpreter shutdown after the
        # work was done); the files must be consistent all the same
        assert proc.returncode in (0, code, -sig), err
        if proc.returncode == code:
            assert err.strip().splitlines()[-1].endswith(("interrupted", "terminated"))
        assert not out.exists() or len(list(out.iterdir())) == complete


def test_the_readme_users_example_succeeds(capsys):
    """The README's own `users` example once exited 3; run it as written there."""
    import shlex

    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("inferonomics users --model"))
    text = ""
    for line in lines[start:]:
        text += line.split("#")[0].rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            break
    argv = shlex.split(text)[1:]
    code, out, err = run(capsys, argv)
    assert code == 0, err
    assert "users (" in out and "utilization" in out
