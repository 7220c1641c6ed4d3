"""The core CLI: seed, evaluate, derive and plot, including every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from inferonomics.optimize.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_seed_json_has_the_issue_keys(capsys):
    code, out, _ = run(capsys, "seed", "--json")
    data = json.loads(out)
    assert code == 0
    for key in ("compute_ms", "memory_ms", "utilization_at_batch_1", "utilization_at_batch_100",
                "break_even_batch", "min_user_base", "min_user_base_at_break_even"):
        assert key in data
    assert data["break_even_batch"] == 500 and data["min_user_base"] == 144000


def test_seed_text_names_the_refinements(capsys):
    code, out, _ = run(capsys, "seed")
    assert code == 0
    assert "raw FLOP:byte ratio" in out and "c* = " in out and "F*b_w/(2*W)" in out
    assert "replicated" in out  # the illustrative 8 KV heads at TP 20


def test_evaluate_reproduces_the_textbook_numbers(capsys):
    code, out, _ = run(capsys, "evaluate", "--params", "1.6e12", "--bytes-per-weight", "1", "--peak-flops", "3e15",
                       "--hbm-bandwidth", "3e12", "--tp", "20", "--batch", "100", "--price-usd-per-hour", "2",
                       "--json")
    d = json.loads(out)
    assert code == 0
    assert d["compute_ms"] == pytest.approx(5.3333333, rel=1e-6)  # 2*1.6e12*100/(20*3e15)
    assert d["memory_ms"] == pytest.approx(26.666667, rel=1e-6)  # 1.6e12/(20*3e12)
    assert d["utilization"] == pytest.approx(0.2)
    assert d["memory_bound"] is True and d["comm_ms"] == 0
    # 20 chips at $2/h for 26.67 ms emit 100 tokens: 2*20/3600*0.0266667/100*1e6
    assert d["cost_usd_per_million_tokens"] == pytest.approx(2.962963, rel=1e-6)
    for key in ("step_ms", "tokens_per_s", "tokens_per_s_per_user"):
        assert key in d


def test_evaluate_latency_only_comm_without_link_bandwidth(capsys):
    base = ["evaluate", "--params", "7e10", "--bytes-per-weight", "2", "--peak-flops", "1e15", "--hbm-bandwidth",
            "3e12", "--tp", "8", "--layers", "80", "--hidden", "8192", "--link-latency-s", "1e-6", "--json"]
    _, out, _ = run(capsys, *base)
    # 80 layers x 2 all-reduces x 2(t-1) hops x 1 us
    assert json.loads(out)["comm_ms"] == pytest.approx(80 * 2 * 14 * 1e-6 * 1e3)
    _, out, _ = run(capsys, *base, "--link-bandwidth", "4.5e11")
    assert json.loads(out)["comm_ms"] > 80 * 2 * 14 * 1e-6 * 1e3


def test_per_op_is_never_faster_than_step(capsys):
    args = ["evaluate", "--params", "8e9", "--bytes-per-weight", "2", "--peak-flops", "9.89e14",
            "--hbm-bandwidth", "3.35e12", "--batch", "256", "--context", "4096", "--kv-bytes-per-token", "131072",
            "--layers", "32", "--hidden", "4096", "--json"]
    _, out, _ = run(capsys, *args, "--overlap", "step")
    _, out2, _ = run(capsys, *args, "--overlap", "per-op")
    assert json.loads(out2)["step_ms"] >= json.loads(out)["step_ms"]


@pytest.mark.parametrize("argv, needle", [
    (["evaluate", "--params", "0"], "--params"),
    (["evaluate", "--params", "-5"], "--params"),
    (["evaluate", "--params", "nan"], "--params"),
    (["evaluate", "--peak-flops", "inf"], "--peak-flops"),
    (["evaluate", "--batch", "0.5"], "--batch"),
    (["evaluate", "--tp", "3.5"], "--tp"),
    (["evaluate", "--tp", "0"], "--tp"),
    (["evaluate", "--frobnicate", "1"], "unrecognized"),
    (["evaluate", "--params", "1e9"], "--bytes-per-weight"),
    (["evaluate", "--overlap", "sometimes"], "--overlap"),
    (["derive", "--bogus"], "unrecognized"),
    (["plot", "roofline", "-o", "/tmp/x.gif"], ".png or .svg"),
    (["plot", "nothing", "-o", "/tmp/x.png"], "invalid choice"),
    (["nonsense"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(argv, needle):
    proc = subprocess.run([sys.executable, "-m", "inferonomics.optimize.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_derive_lists_every_formula_as_json(capsys):
    from inferonomics.symbolic.formulas import all_formulas

    code, out, _ = run(capsys, "derive", "--json")
    data = json.loads(out)["formulas"]
    assert code == 0 and [f["name"] for f in data] == [f.name for f in all_formulas()]
    for f in data:
        assert {"name", "expression", "latex", "args", "conditions"} <= set(f)


def test_evaluate_with_catalog_names_reports_the_calibrated_serving_tpot(capsys):
    from inferonomics.optimize.serving_step import calibrated_tpot_s

    argv = ["evaluate", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--tp", "1",
            "--batch", "32", "--prompt-len", "1024", "--output-len", "128", "--json"]
    code, out, _ = run(capsys, *argv)
    d = json.loads(out)
    assert code == 0 and d["step_model"] == "serving"
    # the same function the optimizer uses, which tests/test_optimize_serving.py ties to `validate`
    assert d["step_ms"] == pytest.approx(
        calibrated_tpot_s("llama3.1-8b", "h100-sxm", "bf16", 1, 32, 1024, 128) * 1e3, rel=1e-12)
    code, out, _ = run(capsys, *argv, "--ideal")
    ideal = json.loads(out)
    assert ideal["step_model"] == "ideal" and ideal["step_ms"] < d["step_ms"] and "ttft_ms" not in ideal


def test_set_beats_the_calibration_and_fractions_stay_fractions(capsys):
    """With catalog hardware the shipped calibration sets the efficiencies; an explicit --set still wins
    (halving eta_bw doubles a memory-bound step's memory time). An efficiency outside (0, 1] is refused."""
    base = ["evaluate", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--json"]
    code, out, _ = run(capsys, *base)
    fitted = json.loads(out)
    code2, out2, _ = run(capsys, *base, "--set", "eta_bw=0.4")
    halved = json.loads(out2)
    assert code == code2 == 0
    assert halved["breakdown_ms"]["mlp"] > fitted["breakdown_ms"]["mlp"] * 1.5  # weight streaming at eta_bw
    for bad in ("eta_flop=2", "eta_bw=1.0001", "kv_memory_fraction=1.5"):
        code, _, err = run(capsys, *base, "--set", bad)
        assert code == 2 and "a fraction in (0, 1]" in err and len(err.strip().splitlines()) == 1
