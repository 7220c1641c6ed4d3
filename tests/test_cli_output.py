"""What people read: tables and units in text, fractions and nulls in JSON, optimize without prices, engines
only on cards they run on, progress only on a terminal. Expected figures are worked out by hand here."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import time

import pytest

from inferonomics.optimize.cli import main
from inferonomics.optimize.commands import _table as T
from inferonomics.optimize.commands._progress import Progress
from cli_run import run_cli

IDEAL_70B = ["--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "bf16", "--ideal"]


run = run_cli


# -- formatting helpers -----------------------------------------------------------------------------------


def test_units_and_percent():
    assert T.si(8e10, "B") == "80 GB" and T.si(3.35e12, "B/s") == "3.35 TB/s"
    assert T.si(9.89e14, "FLOP/s") == "989 TFLOP/s" and T.si(1.979e15, "FLOP/s") == "1.98 PFLOP/s"
    assert T.pct(0.4567) == "45.7%" and T.pct(None) == "-"
    assert T.seconds(2e-6) == "2 µs" and T.figure("link_latency_s", 2e-6) == "2 µs"
    assert T.figure("kv_bytes_per_token", 327680) == "328 kB per token"
    assert T.figure("year", 2022) == "2022"


def test_table_aligns_numbers_right_and_text_left():
    lines = T.table(["name", "n"], [["a", "1"], ["bbb", "1,000"]]).splitlines()
    assert lines == ["name      n", "----  -----", "a         1", "bbb   1,000"]


# -- list and show ----------------------------------------------------------------------------------------


def _rows(text: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    return {ln.split()[0]: ln.split() for ln in lines[2:] if ln and not ln.startswith(("FLOP/B", "params", "bytes"))}


def test_list_hardware_key_figures_by_hand(capsys):
    code, out, _ = run(capsys, ["list", "hardware"])
    assert code == 0
    head = out.splitlines()[0].split()
    assert head[:4] == ["name", "vendor", "HBM", "GB"]
    rows = _rows(out)
    # H100 SXM: 80 GB, 3.35 TB/s, 989 / 1979 TFLOP/s dense; FLOP/B = 989e12 / 3.35e12 = 295.2;
    # B* = F b_w / 2W: bf16 989e12 * 2 / (2 * 3.35e12) = 295.2, fp8 1979e12 * 1 / (2 * 3.35e12) = 295.4
    assert rows["h100-sxm"] == ["h100-sxm", "NVIDIA", "80", "3.35", "989", "1,979", "1,979", "-", "295", "295", "295"]
    # A100: no fp8 rate, so fp8 weights compute at bf16: 312e12 * 1 / (2 * 2.039e12) = 76.5 -> 77
    assert rows["a100-sxm"][-1] == "77" and rows["a100-sxm"][5] == "-"
    assert len(rows) == 27


@pytest.mark.parametrize("kind, keys", [
    ("hardware", {"name", "vendor", "hbm_capacity_bytes", "hbm_bandwidth_bytes_per_s", "peak_flop_per_s",
                  "ridge_flop_per_byte_bf16", "break_even_batch"}),
    ("models", {"name", "total_params", "active_params", "kv_bytes_per_token"}),
    ("precisions", {"name", "bits_per_element", "bytes_per_element_float"}),
])
def test_list_json_has_the_figures_in_si(kind, keys, capsys):
    code, out, _ = run(capsys, ["list", kind, "--json"])
    rows = json.loads(out)
    assert code == 0 and rows and all(keys <= set(r) for r in rows)
    if kind == "hardware":
        h = next(r for r in rows if r["name"] == "h100-sxm")
        assert h["hbm_capacity_bytes"] == 8e10 and h["break_even_batch"]["bf16"] == pytest.approx(989 / 3.35)
    if kind == "models":
        m = next(r for r in rows if r["name"] == "llama3.1-70b")
        assert m["kv_bytes_per_token"] == 80 * 2 * 8 * 128 * 2  # layers x (K,V) x KV heads x head dim x bf16


def test_models_table_in_billions(capsys):
    _, out, _ = run(capsys, ["list", "models"])
    row = _rows(out)["llama3.1-70b"]
    assert "70.6" in row and "328" in row  # 70.55 B parameters; 327,680 B of KV per token


def test_show_prints_units_and_sources(capsys):
    code, out, _ = run(capsys, ["show", "h100-sxm"])
    assert code == 0
    lines = out.splitlines()
    cap = next(ln for ln in lines if ln.startswith("hbm_capacity_bytes"))
    assert "80 GB" in cap and "[1]" in cap and "8e+10" not in out
    assert "3.35 TB/s" in out and "989 TFLOP/s" in out
    assert "sources:" in lines and any(ln.startswith("  [1] https://www.nvidia.com") for ln in lines)
    assert any("ASSUMPTION" in ln for ln in lines if ln.startswith("  [2]"))  # the link latency's own source


# -- optimize without prices --------------------------------------------------------------------------------


def test_optimize_without_prices_takes_the_fewest_chips(capsys):
    """Llama-3.1-70B in bf16 holds 141 GB of weights; one H100 holds 80 GB (74 usable after the 5% and 2 GB
    reserves), two hold 148: with a small demand and a loose SLO the answer is one replica of TP 2."""
    args = ["optimize", *IDEAL_70B, "--tpot-slo-ms", "200", "--demand-tokens-per-s", "10"]
    code, out, err = run(capsys, [*args, "--json"])
    d = json.loads(out)
    assert code == 0, err
    assert d["objective"] == "chips" and d["objective_value"] == 2 and d["chips"] == 2 and d["tp"] == 2
    assert d["cost_usd_per_hour"] is None and d["cost_usd_per_million_tokens"] is None
    assert d["chip_hours_per_million_tokens"] == pytest.approx(2 / (3600 * d["tokens_per_s"]) * 1e6)
    code, text, _ = run(capsys, args)
    assert code == 0 and "$" not in text and "chips" in text.splitlines()[0]


def test_utilization_is_a_percent_in_text_and_a_fraction_in_json(capsys):
    args = ["optimize", *IDEAL_70B, "--tpot-slo-ms", "50", "--demand-tokens-per-s", "5000"]
    _, out, _ = run(capsys, [*args, "--json"])
    u = json.loads(out)["utilization"]
    assert 0 < u < 1
    _, text, _ = run(capsys, args)
    assert f"{u * 100:.1f}%" in text.splitlines()[3]


def test_prices_keep_dollars(capsys):
    code, out, _ = run(capsys, ["optimize", *IDEAL_70B, "--tpot-slo-ms", "50", "--demand-tokens-per-s", "5000",
                                "--price-usd-per-hour", "2", "--json"])
    d = json.loads(out)
    assert code == 0 and d["objective"] == "usd_per_hour" and d["cost_usd_per_hour"] == 2 * d["chips"]


# -- pareto and sweep: short tables; CSV only when asked --------------------------------------------------------


def test_pareto_prints_a_short_table_and_csv_on_request(capsys, tmp_path):
    args = ["pareto", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--ideal"]
    code, out, _ = run(capsys, args)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:2] == ["hardware", "precision"] and "chip-h/Mtok" in lines[0]
    shown, total = map(int, lines[-2].split(" frontier")[0].split(" of "))
    assert shown == 12 == len(lines) - 4 and total > 12 and "--csv" in lines[-2]
    _, csv_out, _ = run(capsys, [*args, "--csv"])
    assert csv_out.splitlines()[0].startswith("hardware,precision,tp") and len(csv_out.splitlines()) == total + 1
    path = tmp_path / "f.csv"
    _, out2, _ = run(capsys, [*args, "-o", str(path)])
    assert len(path.read_text().splitlines()) == total + 1 and str(path) in out2


def test_sweep_summary_is_a_table(capsys):
    code, out, _ = run(capsys, ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--ideal", "--tp", "1",
                                "--batch", "1:8", "--context", "0,1024", "--summary"])
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("16 configurations")
    assert lines[3].split()[:4] == ["best", "h100-sxm", "bf16", "1"] and lines[4].startswith("worst")


def test_sweep_csv_prints_every_row(capsys):
    _, out, _ = run(capsys, ["sweep", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--ideal", "--tp", "1",
                             "--batch", "1:8", "--context", "0,1024", "--csv"])
    assert len(out.splitlines()) == 1 + 16


# -- backends and cards ---------------------------------------------------------------------------------------


def test_backend_data_matches_the_serving_model_and_the_docs():
    from inferonomics.optimize import backends, serving_step

    assert set(backends.BACKENDS) == set(serving_step.BACKENDS)
    assert backends.backend("trtllm").vendors == ("NVIDIA",)  # TensorRT-LLM: NVIDIA GPUs only
    for name in ("vllm", "sglang"):
        assert {"NVIDIA", "AMD"} <= set(backends.backend(name).vendors)
    for name in backends.BACKENDS:
        b = backends.backend(name)
        assert b.source.startswith("https://") and b.retrieved
        assert not {"Groq", "Cerebras"} & set(b.vendors)  # their own serving stacks


def test_optimizer_never_pairs_a_backend_with_a_card_it_does_not_run_on(capsys):
    from inferonomics.optimize import backends
    from inferonomics.symbolic import catalog

    cards = ["h100-sxm", "mi300x", "gaudi3"]
    for backend in backends.BACKENDS:
        code, out, err = run(capsys, ["optimize", "--model", "llama3.1-8b", "--hardware", ",".join(cards),
                                      "--precision", "bf16", "--tpot-slo-ms", "100", "--demand-tokens-per-s", "1000",
                                      "--backend", backend, "--json"])
        d = json.loads(out)
        assert code == 0, err
        assert catalog.hardware(d["hardware"]).vendor in backends.backend(backend).vendors
        left_out = [c for c in cards if catalog.hardware(c).vendor not in backends.backend(backend).vendors]
        for card in left_out:
            assert any(n.startswith(f"skipped {card}: ") and "does not run on" in n for n in d["notes"]), d["notes"]
    assert left_out == ["gaudi3"] or left_out == []


def test_ideal_model_has_no_backend_so_skips_no_card(capsys):
    code, out, _ = run(capsys, ["optimize", "--model", "llama3.1-8b", "--hardware", "mi300x", "--ideal",
                                "--tpot-slo-ms", "100", "--demand-tokens-per-s", "1000", "--json"])
    assert code == 0 and json.loads(out)["hardware"] == "mi300x"


# -- progress: on a terminal only, never with --json ------------------------------------------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_and_erases_one_line():
    stream = _Tty()
    with Progress("inferonomics test", enabled=True, stream=stream, delay=0.0, interval=0.01) as p:
        p.phase("fitting")
        p.count(1, 4)
        time.sleep(0.1)
    text = stream.getvalue()
    assert "\r" in text and "inferonomics test: fitting   25%" in text
    assert "\n" not in text and text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""  # erased


def test_progress_is_silent_when_disabled_or_quick():
    for enabled, delay in ((False, 0.0), (True, 5.0)):
        stream = _Tty()
        with Progress("x", enabled=enabled, stream=stream, delay=delay, interval=0.01):
            time.sleep(0.05)
        assert stream.getvalue() == ""


def test_progress_only_on_a_terminal_and_never_with_json(monkeypatch):
    from inferonomics.optimize.commands._progress import progress

    class Args:
        json = False

    monkeypatch.setattr(sys, "stderr", _Tty())
    assert progress(Args(), "sweep").enabled
    Args.json = True
    assert not progress(Args(), "sweep").enabled
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    Args.json = False
    assert not progress(Args(), "sweep").enabled


#: a calibrated sweep of ~1 M points (a fraction of a second); the tests show the line at once
#: (INFERONOMICS_PROGRESS_DELAY=0) rather than depend on the machine's speed
SLOW_SWEEP = [sys.executable, "-m", "inferonomics.optimize.cli", "sweep", "--model", "llama3.1-8b", "--hardware",
              "h100-sxm", "--tp", "1,2,4,8", "--batch", "1:4096", "--context", "512:32768:64", "--summary"]
NO_DELAY = {**os.environ, "INFERONOMICS_PROGRESS_DELAY": "0"}


def _run_with_pty_stderr(argv: list[str]) -> tuple[int, str, bytes]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=NO_DELAY)
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read().decode()
    os.close(master)
    return proc.wait(), out, err


def test_a_long_sweep_shows_progress_on_a_pseudo_terminal():
    code, out, err = _run_with_pty_stderr(SLOW_SWEEP)
    assert code == 0 and "configurations" in out
    assert err.startswith(b"\rinferonomics sweep: ") and b" s" in err
    assert err.endswith(b"\r") and err.rsplit(b"\r", 2)[-2].strip() == b""  # the line is erased at the end
    assert "\r" not in out and "inferonomics sweep:" not in out  # stdout holds only the result
    code, out, err = _run_with_pty_stderr([*SLOW_SWEEP, "--json"])
    assert code == 0 and json.loads(out)["configs"] > 0 and err == b""


def test_no_progress_when_stderr_is_not_a_terminal():
    proc = subprocess.run(SLOW_SWEEP, capture_output=True, text=True, env=NO_DELAY)
    assert proc.returncode == 0 and proc.stderr == ""


def test_evaluate_utilization_percent_by_hand(capsys):
    """N = 7e10 at 2 bytes, F = 1e15, W = 3e12, B = 100: memory-bound step 7e10 x 2 / 3e12 = 46.67 ms; useful
    FLOPs 2 x 7e10 x 100 = 1.4e13, so utilization 1.4e13 / (1e15 x 0.04667) = 30%."""
    raw = ["evaluate", "--params", "7e10", "--bytes-per-weight", "2", "--peak-flops", "1e15", "--hbm-bandwidth",
           "3e12", "--batch", "100"]
    _, text, _ = run(capsys, raw)
    assert next(ln for ln in text.splitlines() if ln.startswith("utilization ")).split()[-1] == "30.00%"
    _, out, _ = run(capsys, [*raw, "--json"])
    assert json.loads(out)["utilization"] == pytest.approx(0.3)


def test_evaluate_gives_no_tpot_for_an_engine_on_a_card_it_does_not_run_on(capsys):
    base = ["evaluate", "--model", "llama3.1-8b", "--hardware", "mi300x", "--batch", "8", "--json"]
    code, _, err = run(capsys, base)
    assert code == 2 and "does not run on AMD" in err and "vllm, sglang" in err and "--ideal" in err
    _, out, _ = run(capsys, [*base, "--backend", "vllm"])
    assert json.loads(out)["step_ms"] > 0 and json.loads(out)["backend"] == "vllm"


@pytest.mark.parametrize("json_flag", [[], ["--json"]], ids=["text", "json"])
def test_validate_progress_goes_to_a_terminal_stderr_only(json_flag, capsys, monkeypatch):
    """isatty faked on stderr: the phases appear there (never with --json), and stdout holds only results."""
    from pathlib import Path

    tty = _Tty()
    monkeypatch.setenv("INFERONOMICS_PROGRESS_DELAY", "0")
    monkeypatch.setattr(sys, "stderr", tty)
    good = Path(__file__).parent / "fixtures" / "measurements" / "good"
    code = main(["validate", "--measurements", str(good), *json_flag])
    out, _ = capsys.readouterr()
    assert code == 0 and "\r" not in out and "inferonomics validate" not in out
    if json_flag:
        assert tty.getvalue() == "" and json.loads(out)
    else:
        assert tty.getvalue().startswith("\rinferonomics validate: ") and tty.getvalue().endswith("\r")
