"""The efficiencies and fixed costs a closed form carries: symbols in its general form, 1 and 0 in its ideal limit.

The step model (:func:`inferonomics.symbolic.model.t_step`) divides every datasheet rate by an achieved fraction
(``eta_flop``, ``eta_bw``, ``eta_kv``) and adds fixed costs (``overhead_s`` per step, ``layer_overhead_s`` per
layer). A closed-form builder takes an :class:`Efficiencies` and writes its result with them: built with
:data:`SYMBOLIC` the result solves its defining equation in that model; built with :data:`IDEAL` the same code
gives the essay's form, which is therefore the general one at efficiencies 1 and fixed costs 0 (tests check both).
"""

from __future__ import annotations

from dataclasses import dataclass

from sympy import Expr, S, Symbol

from . import symbols as s


@dataclass(frozen=True)
class Efficiencies:
    """The achieved fractions and fixed costs of one decode step, as the closed forms use them."""

    eta_F: Expr = S.One
    eta_W: Expr = S.One
    eta_kv: Expr = S.One
    t_o: Expr = S.Zero
    t_layer: Expr = S.Zero

    def fixed(self) -> Expr:
        r"""Fixed time of one step, :math:`L t_\ell + t_o` (seconds), whatever the batch."""
        return s.L * self.t_layer + self.t_o


#: the ideal model: datasheet rates, nothing fixed
IDEAL = Efficiencies()
#: the general model: every efficiency and fixed cost a symbol
SYMBOLIC = Efficiencies(s.eta_F, s.eta_W, s.eta_kv, s.t_o, s.t_layer)
#: each carried symbol and its ideal value (the default a general closed form falls back to)
DEFAULTS: dict[Symbol, Expr] = {s.eta_F: S.One, s.eta_W: S.One, s.eta_kv: S.One, s.t_o: S.Zero, s.t_layer: S.Zero}


def carried(args: tuple[Symbol, ...], *exprs: Expr) -> tuple[tuple[Symbol, ...], dict[Symbol, Expr]]:
    """``args`` followed by the efficiency symbols ``exprs`` use that ``args`` lacks (in :data:`DEFAULTS` order),
    and those appended symbols' ideal values: a general record's arguments and defaults."""
    used = set().union(*(e.free_symbols for e in exprs))
    extra = tuple(sym for sym in DEFAULTS if sym in used and sym not in args)
    return (*args, *extra), {sym: DEFAULTS[sym] for sym in extra}


#: the derivation document's section on the general forms (symbolic.document prints it above their results)
CALIBRATED_TEXT = (
    "Every closed form above that involves a step time is the ideal limit of a general one that keeps the step "
    "model's efficiencies and fixed costs as symbols: eta_F, eta_W and eta_kv divide the datasheet rates F and W, "
    "and L t_ell + t_o adds to every step outside its roofline. The same derivation with these symbols gives the "
    "general forms below; each solves its defining equation in the step model with efficiencies, and at "
    "eta = 1, t_ell = t_o = 0 it is the form derived above. The fixed costs drop out of every balance of two "
    "roofline arms (the break-even batches, the critical context) and stay in the latency floor, the "
    "utilization and the API crossover. A calibration fills in the five symbols for one card, GEMM precision and "
    "serving backend, each evaluated from the calibrated kernel terms at a representative shape: eta_F is the "
    "achieved fraction of peak of an 8192^3 GEMM; eta_W is the weight bytes of an 8192 x 8192 decode GEMM over "
    "the time of its whole memory arm (the weights plus the activation reads and output writes, which grow with "
    "the batch) at the batch where that GEMM turns compute-bound; eta_kv is the KV-cache stream fraction of "
    "split-KV decode attention (64 sequences of 4096 tokens, 8 KV heads, the kernel's own KV blocks); t_ell is the fixed times of one decoder layer's kernels (four "
    "weight GEMMs, one decode-attention kernel, and four input quantizations for fp8 on TensorRT-LLM); t_o is the "
    "backend's fitted step overhead plus the LM head's fixed time. A decode step turns compute-bound at the batch "
    "where the FLOP time of its weight GEMMs (attention projections, MLP and LM head, at their shapes on one chip "
    "of the replica) equals their memory-stream time (weights plus activation reads and output writes), both "
    "taken from the calibrated kernel terms without the kernels' fixed times and k-loop latency. With the "
    "calibrated eta_F and eta_W the break-even batch eta_F F b_w/(2 eta_W W) is exactly that batch for the "
    "representative GEMM, and the test suite checks it against the full calibrated serving step of Llama 3.1 8B "
    "and 70B on the H100 and the B200, to within 10%. The command inferonomics export --formula NAME --calibrated "
    "--hardware H writes a general form with these values substituted and names the calibration it used."
)
