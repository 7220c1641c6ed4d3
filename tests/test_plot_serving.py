"""`plot` draws the model every command uses: the calibrated serving model for a catalog model on catalog
hardware (its curve's points are `evaluate`'s, found by a separate command), the ideal model (the essay's limit)
otherwise or with --ideal; each figure says which."""

from __future__ import annotations

import json

import pytest

from cli_run import run_cli
from inferonomics.optimize.calibrated_forms import calibrated_values
from inferonomics.symbolic import catalog

DEPLOY = ["--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "fp8", "--tp", "4"]


def _plot(capsys, tmp_path, *argv):
    code, out, err = run_cli(capsys, ["plot", *argv, "-o", str(tmp_path / "p.png"), "--json"])
    assert code == 0, err
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    return json.loads(out)


@pytest.fixture(scope="module")
def serving_marks(tmp_path_factory):
    from contextlib import redirect_stdout
    from io import StringIO

    from inferonomics.optimize.cli import main

    buf = StringIO()
    with redirect_stdout(buf):
        assert main(["plot", "utilization", *DEPLOY, "-o", str(tmp_path_factory.mktemp("p") / "u.png"), "--json"]) == 0
    return json.loads(buf.getvalue())


def test_serving_curve_is_evaluates_step(serving_marks, capsys):
    """Points of the plotted curve equal `evaluate --json`'s step_ms and tokens_per_s at those batches."""
    m = serving_marks
    assert m["step_model"] == "serving"
    c = m["curve"]
    n = len(c["batch"])
    assert n > 50 and c["batch"][0] == 1.0
    for i in (0, n // 3, 2 * n // 3, n - 1):
        b = c["batch"][i]
        code, out, err = run_cli(capsys, ["evaluate", *DEPLOY, "--batch", f"{b:g}", "--json"])
        assert code == 0, err
        ev = json.loads(out)
        assert ev["step_model"] == "serving" and ev["resident_batch"] == b  # the curve stops at the resident batch
        assert c["step_ms"][i] == pytest.approx(ev["step_ms"], rel=1e-12)
        assert c["tokens_per_s"][i] == pytest.approx(ev["tokens_per_s"], rel=1e-12)


def test_serving_break_even_is_the_calibrated_closed_form(serving_marks):
    """The marked B* is eta_F F b_w / (2 eta_W W) with the card's fitted efficiencies, written out by hand."""
    eff = calibrated_values("h100-sxm", "fp8").values
    hw = catalog.hardware("h100-sxm")
    by_hand = eff["eta_flop"] * hw.peak_flop_per_s["fp8"] * 1.0 / (2 * eff["eta_bw"] * hw.hbm_bandwidth_bytes_per_s)
    assert serving_marks["break_even_batch"] == pytest.approx(by_hand, rel=1e-9)
    # and it is not the ideal one: the calibration moved it
    ideal = hw.peak_flop_per_s["fp8"] / (2 * hw.hbm_bandwidth_bytes_per_s)
    assert abs(serving_marks["break_even_batch"] / ideal - 1) > 0.02


def test_block_scaled_checkpoint_plots_at_the_per_tensor_fp8_efficiencies(capsys, tmp_path):
    """DeepSeek-V3's fp8 checkpoint is block-scaled (its experts on the block-scaled kernel, serving precision
    fp8_block); its dense GEMMs run per-tensor fp8, so the marked B* is the fp8 closed form's, written out by hand.
    (Once the serving precision became fp8_block, plot refused the model: 'expected bf16 or fp8'.)"""
    m = _plot(capsys, tmp_path, "utilization", "--model", "deepseek-v3", "--hardware", "h200", "--precision", "fp8",
              "--tp", "8")
    eff = calibrated_values("h200", "fp8").values
    hw = catalog.hardware("h200")
    by_hand = eff["eta_flop"] * hw.peak_flop_per_s["fp8"] / (2 * eff["eta_bw"] * hw.hbm_bandwidth_bytes_per_s)
    assert m["step_model"] == "serving" and m["break_even_batch"] == pytest.approx(by_hand, rel=1e-9)


def _essay_figures():
    return 1.6e12, 1.6e12, 1.0, 3e15, 3e12, 20.0  # the essay's model, 8-bit weights, 20 H100s at round rates


def _catalog_figures():
    v = catalog.bind("llama3.1-70b", "h100-sxm", "fp8")  # datasheet inputs; ideal plot at TP 1
    return (v["active_params"], v["total_params"], v["bytes_per_weight"], v["peak_flop_per_s"],
            v["hbm_bandwidth_bytes_per_s"], 1.0)


@pytest.mark.parametrize("argv, figures", [
    ([], _essay_figures),
    (["--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "fp8", "--ideal"], _catalog_figures),
], ids=["essay", "catalog-ideal"])
def test_ideal_plot_is_the_hand_written_ideal_formula(argv, figures, capsys, tmp_path):
    """--ideal (and the essay's example without catalog flags): step = max(2 N_a B / F, N b_w / W) / t, the
    essay's formula, at every plotted batch; B* = F b_w / (2 W)."""
    n_act, n_tot, bw, F, W, tp = figures()
    m = _plot(capsys, tmp_path, "utilization", *argv)
    assert m["step_model"] == "ideal"
    assert m["break_even_batch"] == pytest.approx(F * bw / (2 * W), rel=1e-12)
    assert len(m["curve"]["batch"]) > 50
    for b, step_ms in zip(m["curve"]["batch"], m["curve"]["step_ms"]):
        assert step_ms == pytest.approx(max(2 * n_act * b / F, n_tot * bw / W) / tp * 1e3, rel=1e-9)


def test_title_says_which_model(monkeypatch, tmp_path, capsys):
    """The figure's title names the model: the ideal limit, or the serving model with its calibration file."""
    import inferonomics.optimize.plots as P

    titles = []
    real = P._save

    def spy(fig, path):
        titles.append(fig.axes[0].get_title())
        return real(fig, path)

    monkeypatch.setattr(P, "_save", spy)
    _plot(capsys, tmp_path, "cost", *DEPLOY)
    _plot(capsys, tmp_path, "cost")
    _plot(capsys, tmp_path, "context", *DEPLOY)
    serving, ideal, context = titles
    assert "calibrated serving model" in serving and "calibration-h100.toml" in serving and "TP 4" in serving
    assert "ideal model" in ideal and "serving" not in ideal
    assert "closed forms at the calibrated efficiencies" in context


@pytest.mark.parametrize("argv, needle", [
    (["--ideal", "--calibration", "x.toml", *DEPLOY[:4]], "--ideal"),
    (["--tp", "2"], "only with the serving model"),
    (["--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "bf16"], "fit"),  # 140 GB on one card
    (["--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tp", "3"], "--tp"),  # 8 KV heads do not split 3 ways
])
def test_bad_serving_flags(argv, needle, capsys, tmp_path):
    code, out, err = run_cli(capsys, ["plot", "utilization", *argv, "-o", str(tmp_path / "p.png")])
    assert code == 2 and needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
