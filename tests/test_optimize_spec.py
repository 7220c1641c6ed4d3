"""Speculative decoding in the optimizer (``--spec-acceptance A --spec-draft-tokens G [--spec-draft-cost C]``,
issue 14): tokens per round against the geometric sum by hand, the composition of the verification step, the
physics the closed forms state (pays at small batch, stops paying at large batch), the JSON fields and bad
input. Exactness against the brute-force oracle: tests/test_optimize_oracle.py (speculation drawn on and off)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_run import run_cli
from inferonomics.optimize import serving_step
from inferonomics.optimize.speculation import Speculation, tokens_per_step


@pytest.mark.parametrize("a, g", [(0.0, 1), (0.5, 1), (0.8, 3), (0.95, 7), (0.3, 5)])
def test_tokens_per_step_is_the_geometric_sum(a, g):
    """The target always adds one token; i more only if the first i drafts are all accepted."""
    by_hand = sum(a ** i for i in range(g + 1))
    assert float(tokens_per_step(a, g)) == pytest.approx(by_hand, rel=1e-12)
    assert Speculation(a, g).tokens_per_step == pytest.approx(by_hand, rel=1e-12)


def _spec():
    return serving_step.spec_for("llama3.1-70b", "h100-sxm", "fp8")


def test_verification_step_is_the_serving_step_with_the_drafted_tokens():
    """TPOT with speculation = (t_verify + G c t_decode)/E + (plain TPOT - t_decode), t_verify the serving model's
    step at batch B with B G more tokens through it (their attention spans the decode context)."""
    from inferonomics.optimize.calibration.serving_model import step_time

    spec, isl, osl, b, g = _spec(), 1024.0, 512.0, 16.0, 3
    sp = Speculation(0.7, g, 0.05)
    a, env, ctx = spec.arch, spec.env, 1024.0 + 256.0
    shape = (2.0, 1.0, 1.0, 2.0)
    t_dec = float(step_time(a, b, isl, osl, *shape, spec.precision, spec.backend, env, prefill_tokens=0.0,
                            context=ctx))
    t_ver = float(step_time(a, b, 2 * ctx, osl, *shape, spec.precision, spec.backend, env, prefill_tokens=b * g,
                            context=ctx))
    assert t_ver > t_dec  # the drafted tokens cost something
    plain = float(serving_step.tpot(spec, 2, b, isl, osl))
    e = 1 + 0.7 + 0.7 ** 2 + 0.7 ** 3
    got = float(serving_step.tpot(spec, 2, b, isl, osl, speculation=sp))
    assert got == pytest.approx((t_ver + g * 0.05 * t_dec) / e + plain - t_dec, rel=1e-12)


def test_speculation_pays_at_small_batch_and_stops_paying_at_large_batch():
    """The essay's bandwidth wall the other way around: at batch 1 the verify pass's extra tokens are nearly free
    (the step waits on the weights), at a large batch they cost compute and speculation loses."""
    spec, sp = _spec(), Speculation(0.6, 4, 0.05)
    b = np.array([1.0, 4.0, 2048.0])
    plain = serving_step.tpot(spec, 8, b, 1024.0, 512.0, mixed=False)
    fast = serving_step.tpot(spec, 8, b, 1024.0, 512.0, mixed=False, speculation=sp)
    assert fast[0] < 0.6 * plain[0] and fast[1] < plain[1]
    assert fast[2] > plain[2]


def test_no_acceptance_never_helps_so_the_optimizer_keeps_plain_decoding(capsys):
    """With acceptance 0 a round yields one token for a dearer step: the answer is plain decoding's."""
    base = ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--precision", "bf16", "--tpot-slo-ms",
            "8", "--demand-tokens-per-s", "3000", "--json"]
    code, out, err = run_cli(capsys, base)
    assert code == 0, err
    plain = json.loads(out)
    assert plain["speculation"] is None
    code, out, err = run_cli(capsys, [*base, "--spec-acceptance", "0", "--spec-draft-tokens", "2"])
    assert code == 0, err
    d = json.loads(out)
    assert d["speculation"] == {"enabled": False, "acceptance_rate": 0.0, "draft_tokens": 2, "draft_cost": 0.0,
                                "tokens_per_step": 1.0}
    assert (d["chips"], d["tp"], d["batch"]) == (plain["chips"], plain["tp"], plain["batch"])


def test_speculation_on_when_it_pays(capsys):
    """A tight TPOT SLO at a small demand: drafts accepted 80% of the time make a cheaper deployment."""
    base = ["optimize", "--model", "llama3.1-70b", "--hardware", "h100-sxm", "--precision", "fp8", "--tpot-slo-ms",
            "15", "--demand-tokens-per-s", "2000", "--json"]
    code, out, err = run_cli(capsys, base)
    plain = json.loads(out)
    code, out, err = run_cli(capsys, [*base, "--spec-acceptance", "0.8", "--spec-draft-tokens", "3",
                                      "--spec-draft-cost", "0.02"])
    assert code == 0, err
    d = json.loads(out)
    assert d["speculation"]["enabled"] is True and d["speculation"]["draft_tokens"] == 3
    assert d["speculation"]["tokens_per_step"] == pytest.approx(1 + 0.8 + 0.64 + 0.512)
    assert d["chips"] < plain["chips"] and d["step_ms"] <= 15


OPT = ["optimize", "--model", "llama3.1-8b", "--hardware", "h100-sxm", "--tpot-slo-ms", "50",
       "--demand-tokens-per-s", "100"]


@pytest.mark.parametrize("argv, needle", [
    (["--spec-acceptance", "1", "--spec-draft-tokens", "2"], "[0, 1)"),
    (["--spec-acceptance", "-0.1", "--spec-draft-tokens", "2"], "[0, 1)"),
    (["--spec-acceptance", "nan", "--spec-draft-tokens", "2"], "[0, 1)"),
    (["--spec-acceptance", "0.5", "--spec-draft-tokens", "0"], ">= 1"),
    (["--spec-acceptance", "0.5"], "together"),
    (["--spec-draft-tokens", "3"], "together"),
    (["--spec-acceptance", "0.5", "--spec-draft-tokens", "2", "--spec-draft-cost", "-1"], ">= 0"),
    (["--spec-acceptance", "0.5", "--spec-draft-tokens", "2", "--ideal"], "drop --ideal"),
], ids=["acceptance-1", "acceptance-negative", "acceptance-nan", "draft-0", "no-draft", "no-acceptance",
        "cost-negative", "ideal"])
def test_bad_speculation_is_one_line_exit_2(argv, needle, capsys):
    code, out, err = run_cli(capsys, [*OPT, *argv])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
