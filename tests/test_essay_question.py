"""The essay's closing claims in `seed` (issue 16), each against a hand computation from the essay's figures:
1.6e12 8-bit weights on 20 hypothetical H100s of 3e15 FLOP/s and 3e12 B/s, 10 minutes a user a day."""

from __future__ import annotations

import json

import pytest

from inferonomics.optimize.cli import main
from inferonomics.symbolic.essay_question import ASSUMED, essay_question_numbers, users_for_24h_service

N, F, W, T = 1.6e12, 3e15, 3e12, 20


@pytest.fixture(scope="module")
def n():
    return essay_question_numbers()


def test_single_user_pays_b_star_times_not_a_thousand(n):
    # two FLOPs per parameter: B* = F b_w / (2 W) = 3e15 / 6e12 = 500; the essay's one FLOP gives 1000
    assert n["single_user_cost_ratio"] == pytest.approx(500)
    assert n["essay_single_user_cost_ratio"] == 1000


def test_users_for_24h_service_by_hand(n):
    swing = ASSUMED["daily_swing"]
    # trough = mean / swing must hold 1000: mean = 1000 swing = U 10 / 1440
    assert n["users_for_24h_service"] == pytest.approx(1000 * swing * 1440 / 10)
    assert n["users_for_24h_service_at_break_even"] == pytest.approx(500 * swing * 1440 / 10)
    assert n["daily_swing_implied_by_essay_1m_users"] == pytest.approx(1e6 * 10 / (1440 * 1000))
    assert 5e5 < n["users_for_24h_service"] < 1e6  # "perhaps even approach 1M"
    assert "trough concurrency = mean concurrency / swing" in ASSUMED["daily_swing_note"]
    assert users_for_24h_service(1.0, 1440.0, 1.0) == 1.0  # one user always on, no swing: one user


def test_nvlink_at_1_tbps_barely_touches_batch_1_hop_latency_does(n):
    weights = N / (T * W)  # 26.67 ms
    # 160 layers x 2 all-reduces, each 2 (t-1)/t x d b_a / beta of bandwidth and 2 (t-1) hops of latency
    bandwidth = 160 * 2 * 2 * (T - 1) / T * 25600 * 2 / 1e12
    latency = 160 * 2 * 2 * (T - 1) * 1e-6
    assert n["batch1_ms_without_comm"] == pytest.approx(weights * 1e3)
    assert n["batch1_ms_with_nvlink"] == pytest.approx((weights + bandwidth) * 1e3)
    assert n["batch1_ms_with_nvlink_and_hop_latency"] == pytest.approx((weights + bandwidth + latency) * 1e3)
    assert bandwidth < 0.01 * latency


def test_energy_per_token_by_hand(n):
    # 20 chips x 700 W for one 26.67 ms step; at B* = 500 the same step is shared by 500 tokens
    assert n["energy_j_per_token_batch1"] == pytest.approx(T * 700 * N / (T * W))
    assert n["energy_j_per_token_at_break_even"] == pytest.approx(T * 700 * N / (T * W) / 500)
    assert n["energy_j_per_token_at_break_even"] == pytest.approx(700 * 2 * N / F)  # compute-bound: 2N/F per token


def test_brain_by_hand(n):
    speed = 150 / 60 / 0.75  # words per second over words per token
    assert n["brain_bandwidth_needed_bytes_per_s"] == pytest.approx(1e14 * speed)  # 333 TB/s
    assert n["essay_h100s_for_brain_bandwidth"] == pytest.approx(1e14 * speed / 3e12)
    assert n["h100s_to_hold_brain_parameters"] == pytest.approx(1e14 / 80e9)  # 1250
    assert n["brain_energy_j_per_token"] == pytest.approx(20 / speed)


def test_seed_json_and_text_carry_the_claims(capsys):
    assert main(["seed", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("single_user_cost_ratio", "users_for_24h_service", "batch1_ms_with_nvlink",
                "energy_j_per_token_batch1", "energy_j_per_token_at_break_even", "brain_bandwidth_needed_bytes_per_s"):
        assert key in data, key
    assert "trough" in data["essay_question_assumed"]["daily_swing_note"]
    assert main(["seed"]) == 0
    out = capsys.readouterr().out
    assert "not the essay's 1000x" in out and "ASSUMED" in out and "hop latency" in out


def test_derivation_section_engineered_away():
    from inferonomics.optimize.derivation_balance import engineered_away_section
    from inferonomics.symbolic.document import render_markdown, render_tex

    sec = engineered_away_section()
    rows = {q: v for q, _, v in sec.table.rows}
    # hand: 70e9 bytes over 230 MB chips = 304.3 -> 305 chips; over 44 GB wafers = 1.59 -> 2; 1.6e12 / 8 = 200 GB
    assert rows["70B at 8 bits: 230 MB Groq chips to hold it"] == "305"
    assert rows["70B at 8 bits: 44 GB Cerebras wafers to hold it"] == "2"
    assert rows["1.6T at 8 bits: SRAM per chip on one 8-chip server"] == "200 GB"
    assert rows["bandwidth for B* = 1 on the essay's H100"] == "1,500 TB/s"  # F b_w / 2 = 1.5e15 B/s
    assert rows["H100 SXM B*, 4-bit weights, bf16 compute"] == "73.8"  # 989e12 x 0.5 / (2 x 3.35e12)
    text = " ".join(sec.paragraphs)
    assert "Assumptions:" in text and "no precision removes it" in text and "not cheaply" in text
    md, tex = render_markdown(sections=(sec,)), render_tex(sections=(sec,))
    assert "## Can the imbalance be engineered away?" in md and r"\section{Can the imbalance" in tex
    for name in sec.formulas:
        assert f"`{name}`" in md
