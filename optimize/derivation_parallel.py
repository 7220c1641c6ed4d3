"""The derivation document's sections on two ways past the essay's walls (issue 14): speculative decoding, the
other way around the bandwidth wall at batch 1, and pipeline parallelism, the way past a model too large for one
scale-up domain. Every value comes from a ClosedForm record."""

from __future__ import annotations

from inferonomics.symbolic import catalog
from inferonomics.symbolic.document import Example, Section
from inferonomics.symbolic.essay import essay_example
from inferonomics.symbolic.formulas import get_formula

SPEC_FORMULAS = ("spec_decode_tokens_per_step", "spec_decode_speedup", "spec_decode_break_even_batch")
PP_FORMULAS = ("pp_token_time", "pp_throughput_gain", "pp_break_even_batch", "pp_stages_to_fit")
#: an illustrative speculation setting: 3 drafted tokens accepted at 0.8 each, a draft costing 5% of a target step
#: (a small draft model or MTP heads); assumptions, not measurements
SPEC = {"acceptance_rate": 0.8, "draft_tokens": 3.0, "draft_cost_ratio": 0.05}

SPEC_TEXT = (
    "Speculative decoding is the other way around the essay's bandwidth wall at batch 1. Batching fills the compute "
    "a memory-bound step leaves idle with other users' tokens; speculation fills it with the same user's future "
    "tokens: a draft proposes gamma tokens, and the target verifies them all in one step. While the step is "
    "bandwidth-bound those extra tokens are nearly free (the weights are read once whatever the number of tokens), "
    "so a user gains the expected accepted tokens per step. Past the batch spec_decode_break_even_batch the step "
    "is compute-bound and each verified token costs compute like any other: speculation stops paying, before "
    "batching alone has filled the chip.",
)


def _g(x: float, unit: str = "") -> str:
    text = f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.3g}"
    return f"{text} {unit}".strip()


def speculation_section() -> Section:
    v = dict(essay_example().values, **SPEC)
    speed = get_formula("spec_decode_speedup")
    bspec = get_formula("spec_decode_break_even_batch").evaluate(v)
    rows = (
        ("expected tokens per verification step", "spec_decode_tokens_per_step",
         _g(get_formula("spec_decode_tokens_per_step").evaluate(v))),
        ("speed-up at batch 1", "spec_decode_speedup", _g(speed.evaluate(dict(v, batch=1.0)))),
        ("speed-up at batch 64", "spec_decode_speedup", _g(speed.evaluate(dict(v, batch=64.0)))),
        ("batch beyond which speculation stops paying", "spec_decode_break_even_batch", _g(bspec)),
        ("... against the break-even batch B*", "break_even_batch",
         _g(get_formula("break_even_batch").evaluate(v))),
        ("speed-up at 2 B*", "spec_decode_speedup", _g(speed.evaluate(dict(v, batch=1000.0)))),
    )
    table = Example(
        "Speculation on the essay's example",
        "The essay's model and H100 rates, with gamma = 3 drafted tokens, each accepted with probability 0.8, and a "
        "draft step costing 5% of a target step (illustrative assumptions, not measurements).",
        rows,
    )
    return Section("Speculative decoding: the other way around the bandwidth wall", SPEC_TEXT, SPEC_FORMULAS, table)


PP_TEXT = (
    "A model whose weights exceed one scale-up domain's memory needs more domains, and tensor parallelism across "
    "the slower scale-out link pays two all-reduces per layer. Pipeline parallelism splits the layers instead: "
    "n_pp stages of t chips pass n_pp micro-batches of B/n_pp sequences along, so a token crosses the whole stack "
    "at B/n_pp plus n_pp - 1 hand-offs of one micro-batch's activations. Below n_pp B* every micro-batch is still "
    "memory-bound, so the extra stages add capacity, not speed (the hand-offs are PP's latency cost); from "
    "n_pp B* on they multiply throughput by nearly n_pp. The serving model composes a pipelined worker the same "
    "way (inferonomics.optimize.calibration.serving), with its fitted kernels for the stack and the link.",
)


def pipeline_section() -> Section:
    v = catalog.bind("llama3.1-405b", "h100-sxm", "bf16")
    v.update(tp=8.0, bytes_per_activation=2.0)
    tau = get_formula("pp_token_time")
    gain = get_formula("pp_throughput_gain")
    rows = (
        ("stages of 8 H100s to hold the bf16 weights", "pp_stages_to_fit", _g(get_formula("pp_stages_to_fit").evaluate(v))),
        ("batch from which both micro-batches are compute-bound", "pp_break_even_batch",
         _g(get_formula("pp_break_even_batch").evaluate(dict(v, pp=2.0)))),
        ("time per token at batch 1, 2 stages", "pp_token_time", _g(tau.evaluate(dict(v, pp=2.0, batch=1.0)) * 1e3, "ms")),
        ("... of which the one hand-off", "pp_token_time",
         _g((tau.evaluate(dict(v, pp=2.0, batch=1.0)) - tau.evaluate(dict(v, pp=1.0, batch=1.0))) * 1e6,
            "microseconds")),
        ("throughput gain of 2 stages over one, batch 64", "pp_throughput_gain",
         _g(gain.evaluate(dict(v, pp=2.0, batch=64.0)))),
        ("throughput gain of 2 stages over one, batch 2048", "pp_throughput_gain",
         _g(gain.evaluate(dict(v, pp=2.0, batch=2048.0)))),
    )
    table = Example(
        "Llama-3.1-405B in bf16 on nodes of 8 H100 SXM",
        "Catalog figures, ideal model (datasheet rates; the hand-off over the NVLink figures of the catalog, "
        "16-bit activations). A one-stage comparison is what the 8 chips would do if the weights fitted them.",
        rows,
    )
    return Section("Pipeline parallelism: past one scale-up domain", PP_TEXT, PP_FORMULAS, table)
