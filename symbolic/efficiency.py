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


def ideal_values() -> dict[Symbol, Expr]:
    """Symbol -> ideal value, for substituting the limit into a general expression."""
    return dict(DEFAULTS)
