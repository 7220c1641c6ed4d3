"""`inferonomics balance` and `balance --trend` (issue 16): every number against a hand computation or a
second method (scipy.stats.linregress for the fits), sourced years against the facts table, and bad input."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from inferonomics.symbolic import catalog
from cli_run import run_cli

FACTS = Path(__file__).resolve().parents[2] / "shared" / "facts" / "hardware-specs.csv"


def run(capsys, *argv):
    return run_cli(capsys, list(argv))


def balance_json(capsys, *argv) -> dict:
    code, out, err = run(capsys, "balance", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_h100_fp8_by_hand(capsys):
    n = balance_json(capsys, "--hardware", "h100-sxm", "--precision", "fp8")
    F, W = 1.979e15, 3.35e12  # datasheet dense fp8 and HBM3 bandwidth
    assert n["compute_precision"] == "fp8" and n["bytes_per_weight"] == 1.0
    assert n["flop_per_byte"] == pytest.approx(F / W)  # 590.7
    assert n["break_even_batch"] == pytest.approx(F * 1 / (2 * W))  # 295.4
    assert n["bandwidth_needed_bytes_per_s"] == pytest.approx(F / 2)  # B* = 1 needs W = F b_w / 2
    assert n["bandwidth_multiple_needed"] == pytest.approx(F / (2 * W))
    assert n["min_user_base"] == pytest.approx(F / (2 * W) * 1440 / 10)  # 42,534 at the essay's 10 min/day
    assert n["single_user_cost_ratio"] == pytest.approx(295.373, rel=1e-4)


def test_target_and_minutes(capsys):
    n = balance_json(capsys, "--hardware", "h100-sxm", "--precision", "bf16", "--target-break-even-batch", "10",
                     "--minutes-per-day", "60")
    assert n["bandwidth_needed_bytes_per_s"] == pytest.approx(9.89e14 * 2 / (2 * 10))
    assert n["min_user_base"] == pytest.approx(9.89e14 * 2 / (2 * 3.35e12) * 1440 / 60)


def test_model_on_h100_by_hand(capsys):
    n = balance_json(capsys, "--hardware", "h100-sxm", "--model", "llama3.1-70b", "--precision", "bf16",
                     "--price-usd-per-hour", "2")
    wbytes = catalog.bind("llama3.1-70b", "h100-sxm")["total_params"] * 2
    chips = 1
    while chips * 80e9 < wbytes:  # count chips until 80 GB each holds the weights
        chips += 1
    assert n["weight_bytes"] == pytest.approx(wbytes) and n["chips_to_hold_model"] == chips == 2
    step = wbytes / (chips * 3.35e12)  # memory-bound at batch 1: each chip reads its half of the weights
    assert n["batch1_ms_per_token"] == pytest.approx(step * 1e3, rel=1e-9)
    assert n["batch1_chip_hours_per_mtok"] == pytest.approx(chips * step * 1e6 / 3600, rel=1e-9)
    assert n["batch1_usd_per_mtok"] == pytest.approx(2 * chips * step * 1e6 / 3600, rel=1e-9)
    # at B* the step is compute-bound, 2N/(tF) per token: the chip-hours fall by the cost ratio
    n_params = wbytes / 2
    assert n["break_even_chip_hours_per_mtok"] == pytest.approx(2 * n_params / 9.89e14 * 1e6 / 3600, rel=1e-9)


def test_groq_is_capacity_bound(capsys):
    n = balance_json(capsys, "--hardware", "groq-lpu", "--model", "llama3.1-70b", "--precision", "fp16")
    wbytes = catalog.bind("llama3.1-70b", "groq-lpu", "fp16", activation_precision="fp16")["total_params"] * 2
    assert n["chips_to_hold_model"] == math.ceil(wbytes / 230e6)  # 614 chips of 230 MB SRAM
    assert n["flop_per_byte"] == pytest.approx(1.88e14 / 8e13)  # SRAM: balanced, B* ~ 2.4
    assert n["break_even_batch"] == pytest.approx(1.88e14 * 2 / (2 * 8e13))


def test_moe_reads_only_active_experts_at_batch_1(capsys):
    n = balance_json(capsys, "--hardware", "h100-sxm", "--model", "deepseek-v3", "--precision", "fp8")
    v = catalog.bind("deepseek-v3", "h100-sxm", "fp8")
    active_bytes = v["dense_params"] + v["experts_per_token"] * v["expert_params"]  # 1 byte each
    assert n["chips_to_hold_model"] == math.ceil(v["total_params"] / 80e9)
    t = n["chips_to_hold_model"]
    expected = max(active_bytes / (t * 3.35e12), 2 * v["active_params"] / (t * 1.979e15))
    assert n["batch1_ms_per_token"] == pytest.approx(expected * 1e3, rel=1e-9)


@pytest.mark.parametrize("argv, needle", [
    (["--hardware", "h100x"], "did you mean"),
    (["--hardware", "h100-sxm", "--target-break-even-batch", "0.5"], "--target-break-even-batch"),
    (["--hardware", "h100-sxm", "--target-break-even-batch", "nan"], "--target-break-even-batch"),
    (["--hardware", "h100-sxm", "--minutes-per-day", "-3"], "--minutes-per-day"),
    (["--hardware", "h100-sxm", "--minutes-per-day", "0"], "--minutes-per-day"),
    (["--hardware", "h100-sxm", "--minutes-per-day", "2000"], "--minutes-per-day"),
    (["--hardware", "h100-sxm", "--price-usd-per-hour", "inf"], "--price-usd-per-hour"),
    (["--hardware", "h100-sxm", "--set", "peak_flop_per_s=-1"], "peak_flop_per_s"),
    (["--hardware", "m2-ultra"], "peak_flop_per_s"),
    (["--hardware", "groq-lpu", "--precision", "bf16"], "activation_precision"),
    ([], "--hardware"),
    (["--trend", "--hardware", "h100-sxm"], "--trend"),
    (["--trend", "--precision", "fp9"], "did you mean"),
])
def test_bad_input_one_line_exit_2(argv, needle, capsys):
    code, out, err = run(capsys, "balance", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err, err


# -- the trend ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trend():
    from inferonomics.optimize.memory_wall import trend as build

    return build("bf16")


def test_at_least_20_cards_carry_a_sourced_year(trend):
    sourced = [c for c in trend["cards"] if c["year_source"]]
    assert len(sourced) >= 20 and trend["n_cards_with_sourced_year"] == len(sourced)
    for c in sourced:  # the original citations, not the shared folder
        assert "http" in c["year_source"] or "ISCA" in c["year_source"] or "docs" in c["year_source"], c["name"]
        assert "shared" not in c["year_source"]


@pytest.mark.skipif(not FACTS.is_file(), reason="../shared/facts is not beside this checkout")
def test_years_match_the_facts_table():
    rows = {r["name"]: r for r in csv.DictReader(FACTS.open(encoding="utf-8"))}
    checked = 0
    for name in catalog.list_hardware():
        hw = catalog.hardware(name)
        row = rows[hw.display_name]
        if row["year"]:
            assert hw.year == int(row["year"]), name
            assert hw.sources["year"].source == row["source"], name
            checked += 1
    assert checked >= 20


def test_fits_agree_with_linregress(trend):
    rows = [c for c in trend["cards"] if c["in_fit"]]
    assert len(rows) >= 20 and not any(c["memory_kind"] == "sram" for c in rows)
    x = [c["year"] for c in rows]
    for key, field in (("flop_per_s", "peak_flop_per_s"), ("bandwidth", "hbm_bandwidth_bytes_per_s"),
                       ("flop_per_byte", "flop_per_byte")):
        ref = stats.linregress(x, np.log10([c[field] for c in rows]))
        g = trend["fit"][key]
        assert g["log10_slope_per_year"] == pytest.approx(ref.slope, rel=1e-9)
        assert g["log10_slope_se"] == pytest.approx(ref.stderr, rel=1e-9)
        tq = stats.t.ppf(0.975, len(rows) - 2)
        assert g["growth_per_year_95"] == pytest.approx([10 ** (ref.slope - tq * ref.stderr),
                                                         10 ** (ref.slope + tq * ref.stderr)], rel=1e-9)
    # same cards: the balance's slope is exactly the difference of the other two (the memory wall)
    f = trend["fit"]
    assert f["flop_per_byte"]["log10_slope_per_year"] == pytest.approx(
        f["flop_per_s"]["log10_slope_per_year"] - f["bandwidth"]["log10_slope_per_year"], rel=1e-9)


def test_extrapolation_by_hand(trend):
    rows = [c for c in trend["cards"] if c["in_fit"]]
    x = np.array([c["year"] for c in rows], float)
    y = np.log10([c["flop_per_byte"] for c in rows])
    ref = stats.linregress(x, y)
    s2 = ((y - (ref.intercept + ref.slope * x)) ** 2).sum() / (len(x) - 2)
    tq = stats.t.ppf(0.975, len(x) - 2)
    for e in trend["extrapolation"]:
        mid = ref.intercept + ref.slope * e["year"]
        half = tq * math.sqrt(s2 * (1 / len(x) + (e["year"] - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum()))
        assert e["flop_per_byte"] == pytest.approx(10 ** mid, rel=1e-9)
        assert e["flop_per_byte_95"] == pytest.approx([10 ** (mid - half), 10 ** (mid + half)], rel=1e-9)
        assert e["break_even_batch"] == pytest.approx(10 ** mid * 2 / 2, rel=1e-9)  # bf16: b_w = 2
        assert e["min_user_base"] == pytest.approx(10 ** mid * 1440 / 10, rel=1e-9)


def test_trend_cli_json_and_text(capsys):
    t = balance_json(capsys, "--trend")
    assert "_fits" not in t and t["essay_h100"]["flop_per_byte"] == 1000.0
    code, out, _ = run(capsys, "balance", "--trend")
    assert code == 0 and "per year" in out and "h100-sxm" in out


def test_plot_balance(tmp_path, capsys):
    code, out, err = run(capsys, "plot", "balance", "-o", str(tmp_path / "b.png"), "--json")
    assert code == 0, err
    marks = json.loads(out)
    assert (tmp_path / "b.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert marks["n_cards_plotted"] >= 20 and marks["essay_h100"]["year"] == 2022


def test_fit_refuses_too_few_cards():
    from inferonomics.optimize.memory_wall import loglinear_fit
    from inferonomics.symbolic.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="at least 3"):
        loglinear_fit([2022, 2023], [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="at least 3"):
        loglinear_fit([2024, 2024, 2024], [1.0, 2.0, 3.0])
    fit = loglinear_fit([2020, 2021, 2022], [1.0, 10.0, 100.0])  # exactly 10x a year: slope 1, no scatter
    assert fit["slope"] == pytest.approx(1.0) and fit["slope_se"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("year, ok", [
    (2022, True),  # a bare year: metadata, no source
    ({"value": 2022, "source": "primary", "retrieved": "2026-11"}, True),
    ({"value": 2022.5, "source": "primary", "retrieved": "2026-11"}, False),
    ({"value": 1066, "source": "primary", "retrieved": "2026-11"}, False),
    ({"value": 2022, "source": "nokey", "retrieved": "2026-11"}, False),
    ({"value": 2022}, False),
])
def test_hardware_year_bare_or_sourced(year, ok, tmp_path):
    import tomllib
    from importlib import resources

    from inferonomics.symbolic.catalog.loader import hardware_from_tree
    from inferonomics.symbolic.errors import SpecError

    data = resources.files("inferonomics.symbolic.catalog").joinpath("hardware", "h100-sxm.toml").read_bytes()
    tree = tomllib.loads(data.decode())
    tree["year"] = year
    if ok:
        hw = hardware_from_tree(tree, tmp_path / "x.toml")
        assert hw.year == 2022 and (("year" in hw.sources) == isinstance(year, dict))
    else:
        with pytest.raises(SpecError, match="year"):
            hardware_from_tree(tree, tmp_path / "x.toml")


def test_speed_on_card_by_hand(capsys):
    n = balance_json(capsys, "--hardware", "h100-sxm", "--model", "llama3.1-70b", "--precision", "bf16",
                     "--tokens-per-s-per-user", "200")
    wbytes = catalog.bind("llama3.1-70b", "h100-sxm")["total_params"] * 2
    assert n["bandwidth_for_speed_bytes_per_s"] == pytest.approx(wbytes * 200)  # every weight, 200 times a second
    assert n["chips_for_speed"] == math.ceil(wbytes * 200 / 3.35e12) == 9
    m = balance_json(capsys, "--hardware", "h100-sxm", "--model", "deepseek-v3", "--precision", "fp8",
                     "--tokens-per-s-per-user", "1")
    v = catalog.bind("deepseek-v3", "h100-sxm", "fp8")
    assert m["bandwidth_for_speed_bytes_per_s"] == pytest.approx(v["dense_params"] + 8 * v["expert_params"])
    assert m["chips_for_speed"] == m["chips_to_hold_model"]  # 1 token/s: holding it is the bound
    code, out, err = run(capsys, "balance", "--hardware", "h100-sxm", "--tokens-per-s-per-user", "5")
    assert code == 2 and out == "" and "--tokens-per-s-per-user" in err


@pytest.mark.parametrize("dof", [1, 2, 5, 17, 30, 120, 1000])
def test_t_quantile_is_scipys(dof):
    """The trend's 95% band uses mpmath's t quantile (scipy.special costs derive a third of a second to import)."""
    from inferonomics.optimize.memory_wall import _t95

    assert _t95(dof) == pytest.approx(stats.t.ppf(0.975, dof), rel=1e-13)
