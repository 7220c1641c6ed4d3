"""The optimize, pareto, users and sweep commands: exit codes 0 / 2 / 3, JSON keys, one-line errors, files."""

from __future__ import annotations

import json

import pytest

from inferonomics.optimize.cli import main
from cli_run import run_cli

BASE = ["--model", "llama3.1-70b", "--hardware", "h100-sxm,b200", "--precision", "bf16,fp8", "--ideal"]
PRICE = ["--price-usd-per-hour", "h100-sxm=2.5,b200=5"]


run = run_cli


def test_optimize_json(capsys):
    code, out, err = run(capsys, ["optimize", *BASE, *PRICE, "--tpot-slo-ms", "50", "--ttft-slo-ms", "2000",
                                  "--demand-tokens-per-s", "20000", "--json"])
    assert code == 0, err
    d = json.loads(out)
    for key in ("status", "hardware", "precision", "tp", "batch", "replicas", "chips", "step_ms", "ttft_ms",
                "tokens_per_s", "cost_usd_per_hour", "cost_usd_per_million_tokens", "utilization", "binding",
                "reason", "solve_ms"):
        assert key in d
    assert d["status"] == "optimal" and d["step_ms"] <= 50 and d["tokens_per_s"] >= 20000


def test_optimize_from_users_and_text(capsys):
    code, out, _ = run(capsys, ["optimize", *BASE, *PRICE, "--tpot-slo-ms", "50", "--users", "1e6",
                                "--minutes-per-day", "10", "--tokens-per-active-minute", "300"])
    assert code == 0 and out.startswith("OPTIMAL")


def test_mixed_fleet_json(capsys):
    code, out, err = run(capsys, ["optimize", *BASE, *PRICE, "--tpot-slo-ms", "50", "--demand-tokens-per-s",
                                  "60000", "--max-chips", "h100-sxm=8,b200=8", "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert d["status"] == "optimal" and d["chips"] <= 16


def test_infeasible_exits_3_with_the_reason(capsys):
    code, out, err = run(capsys, ["optimize", "--model", "llama3.1-405b", "--hardware", "h100-sxm", "--precision",
                                  "bf16", "--ideal", "--price-usd-per-hour", "2", "--tpot-slo-ms", "50",
                                  "--demand-tokens-per-s", "100", "--json"])
    assert code == 3
    assert json.loads(out)["status"] == "infeasible"
    assert err.count("\n") == 1 and "812 GB of weights" in err


@pytest.mark.parametrize("extra", [
    ["--tpot-slo-ms", "0", "--demand-tokens-per-s", "100"],
    ["--tpot-slo-ms", "-5", "--demand-tokens-per-s", "100"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "nan"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "0"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "100", "--users", "10", "--minutes-per-day", "5"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "100", "--calibration", "x.toml"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "100", "--tp", "1,3"],
    ["--tpot-slo-ms", "50"],
    ["--tpot-slo-ms", "50", "--users", "10"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "100", "--objective", "usd_per_watt"],
    ["--tpot-slo-ms", "50", "--demand-tokens-per-s", "100", "--max-chips", "h100-sxm=0"],
])
def test_bad_input_exits_2_in_one_line(capsys, extra):
    code, out, err = run(capsys, ["optimize", *BASE, *PRICE, *extra])
    assert code == 2
    assert err.count("\n") == 1 and "error" in err


def test_empty_hardware_and_missing_price(capsys):
    code, _, err = run(capsys, ["optimize", "--model", "llama3.1-70b", "--hardware", ",", "--tpot-slo-ms", "50",
                                     "--demand-tokens-per-s", "1"])
    assert code == 2 and err.count("\n") == 1
    code, _, err = run(capsys, ["optimize", "--model", "llama3.1-70b", "--hardware", "h100-sxm,b200", "--ideal",
                                "--tpot-slo-ms", "50", "--demand-tokens-per-s", "1", "--price-usd-per-hour",
                                "h100-sxm=2"])
    assert code == 2 and "--price-usd-per-hour" in err and "b200=<$/chip-hour>" in err and err.count("\n") == 1


def test_tp_error_names_the_heads(capsys):
    code, _, err = run(capsys, ["optimize", *BASE, *PRICE, "--tpot-slo-ms", "50", "--demand-tokens-per-s", "100",
                                "--tp", "6"])
    assert code == 2 and "attention heads" in err


def test_pareto_files(capsys, tmp_path):
    csv, png = tmp_path / "f.csv", tmp_path / "f.png"
    code, out, err = run(capsys, ["pareto", *BASE, *PRICE, "--tpot-slo-ms", "60", "-o", str(csv), "--plot", str(png),
                                  "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert len(d["points"]) > 5 and d["seconds"] < 5
    assert csv.read_text().startswith("hardware,precision,tp,pp,attention_dp,ep,batch")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pareto_and_users_carry_the_pipeline_shape(capsys):
    """Llama-3.1-405B in bf16 (812 GB) fits H100 nodes of 8 only over two pipeline stages: every frontier point
    is TP 8 x PP 2 and is charged 16 chips (chip-hours per Mtok = 16 x TPOT / batch, by hand)."""
    q = ["--model", "llama3.1-405b", "--hardware", "h100-sxm", "--precision", "bf16", "--tpot-slo-ms", "60"]
    code, out, err = run(capsys, ["pareto", *q, "--json"])
    assert code == 0, err
    pts = json.loads(out)["points"]
    assert pts and all((p["tp"], p["pp"]) == (8, 2) for p in pts)
    for p in pts:
        assert p["chip_hours_per_million_tokens"] == pytest.approx(16 * p["step_ms"] / 1e3 / 3600 / p["batch"] * 1e6)
    code, out, err = run(capsys, ["pareto", *q])
    assert code == 0 and "8 x PP 2" in out, err
    code, out, err = run(capsys, ["users", *q, "--target-utilization", "0.05"])
    assert code == 0 and "16 x h100-sxm (TP 8 x PP 2)" in out, err


def test_users_command(capsys):
    code, out, err = run(capsys, ["users", *BASE, "--tpot-slo-ms", "50", "--target-utilization", "0.3", "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert d["status"] == "optimal" and d["min_user_base"] > 0 and d["utilization"] >= 0.3
    code, _, err = run(capsys, ["users", *BASE, "--tpot-slo-ms", "50", "--target-utilization", "1"])
    assert code == 3 and err.count("\n") == 1


def test_sweep_command(capsys, tmp_path):
    code, out, err = run(capsys, ["sweep", *BASE, "--tp", "1,2", "--batch", "1:64", "--context", "1:4096:4",
                                  "--summary", "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert d["configs"] == 2 * 2 * 2 * 64 * 4 and d["configs_per_s"] > 0 and d["best"] and d["worst"]
    out_csv = tmp_path / "s.csv"
    code, _, err = run(capsys, ["sweep", *BASE, "--tp", "1", "--batch", "1:8", "--context", "1,1024",
                                "-o", str(out_csv)])
    assert code == 0, err
    assert len(out_csv.read_text().splitlines()) == 1 + 2 * 2 * 8 * 2
    code, _, err = run(capsys, ["sweep", *BASE, "--batch", "0:8"])
    assert code == 2 and err.count("\n") == 1


SWEEP_70B = ["sweep", "--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "fp8", "--tp", "2,4,8",
             "--json", "--summary"]


#: DeepSeek-V3's fp8 checkpoint is block-scaled: evaluate served its experts on the block-scaled kernel while the
#: sweep (and optimize, through the decision space) served them per-tensor, until both read the checkpoint alike
SWEEP_DEEPSEEK = ["sweep", "--model", "deepseek-v3", "--hardware", "h200", "--precision", "fp8", "--tp", "8",
                  "--json", "--summary"]


@pytest.mark.parametrize("argv, ideal", [(SWEEP_70B, False), (SWEEP_70B, True), (SWEEP_DEEPSEEK, False)],
                         ids=["serving", "ideal", "serving-block-scaled"])
def test_sweep_best_equals_evaluate_there(capsys, argv, ideal):
    """The sweep's best configuration, evaluated on its own by `evaluate`, has the same step_ms."""
    flag = ["--ideal"] if ideal else []
    code, out, err = run(capsys, [*argv, *flag, "--batch", "1:300:+13", "--context", "1024:9216:+2048",
                                  "--isl", "700", "--osl", "300"])
    assert code == 0, err
    d = json.loads(out)
    best = d["best"]
    assert d["step_model"] == ("ideal" if ideal else "serving") and best["fits_memory"]
    code, out, err = run(capsys, ["evaluate", *argv[1:7], "--tp", str(best["tp"]), "--batch", f"{best['batch']:g}",
                                  "--context", f"{best['context']:g}", "--isl", "700", "--osl", "300", *flag, "--json"])
    assert code == 0, err
    e = json.loads(out)
    assert e["step_model"] == d["step_model"]
    assert best["step_ms"] == pytest.approx(e["step_ms"], rel=1e-12)
    assert best["tokens_per_s"] == pytest.approx(e["tokens_per_s"], rel=1e-12)


@pytest.mark.parametrize("argv, flag", [
    (["--batch", "1:10:2.5"], "--batch"), (["--batch", "1:10:+0"], "--batch"), (["--batch", "1:10:+-2"], "--batch"),
    (["--batch", "10:1:+2"], "--batch"), (["--batch", "1:10:+"], "--batch"), (["--context", "0:4096:4"], "--context"),
    (["--dtype", "float32"], "--dtype"), (["--kv-precision", "fp8"], "--kv-precision"),
])
def test_sweep_bad_ranges_and_serving_limits_exit_2_with_one_line(capsys, argv, flag):
    code, _, err = run(capsys, [*SWEEP_70B, *argv])
    assert code == 2 and err.count("\n") == 1 and flag in err


def test_sweep_range_forms():
    from inferonomics.optimize.sweep import parse_range

    assert parse_range("0:100:3", "c").tolist() == [0, 50, 100]  # 3 points
    assert parse_range("0:100:+30", "c").tolist() == [0, 30, 60, 90]  # a step of 30
    assert parse_range("512:32768:64", "c")[:3].tolist() == [512, 1024, 1536]


@pytest.mark.parametrize("backend", ["trtllm", "vllm"])
def test_optimize_calibrated_backend(capsys, backend):
    code, out, _ = run(capsys, ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision",
                                "bf16,fp8", "--tpot-slo-ms", "25", "--demand-tokens-per-s", "5000",
                                "--price-usd-per-hour", "2.5", "--backend", backend, "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["step_model"].startswith(f"calibrated serving model ({backend}")
    assert d["step_ms"] <= 25 * (1 + 1e-9)


def test_unknown_backend_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        main(["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tpot-slo-ms", "25",
              "--demand-tokens-per-s", "5000", "--price-usd-per-hour", "2.5", "--backend", "tgi"])
