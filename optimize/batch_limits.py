"""Each option's largest feasible batch, by one of two evaluation strategies: the calibrated serving model
(:mod:`optimize.batch_serving`, when the platform has one and the weights fit) or the closed-form step model
(:mod:`optimize.batch_closed_form`)."""

from __future__ import annotations

from inferonomics.optimize.batch_closed_form import evaluate_closed_form
from inferonomics.optimize.batch_serving import evaluate_serving
from inferonomics.optimize.option_eval import OptionEval, bind_option, memory_cap, platform_vector, weights_fit
from inferonomics.optimize.problem import Problem
from inferonomics.optimize.space import Option


def evaluate_option(option: Option, problem: Problem) -> OptionEval:
    """Bind one option, check TTFT and weights-in-memory, and find its largest feasible integer batch."""
    return _limit(bind_option(option, problem), problem)


def _limit(ev: OptionEval, problem: Problem) -> OptionEval:
    spec = ev.option.platform.serving
    if spec is not None and weights_fit(ev, problem):
        return evaluate_serving(ev, spec, problem)
    return evaluate_closed_form(ev, problem)


def evaluate_options(problem: Problem, options: list[Option] | None = None) -> list[OptionEval]:
    """:func:`evaluate_option` for every option; the calibrated serving model's curves of all of a platform's
    TP degrees are computed first in one vectorised call per platform (the same numbers, fewer calls)."""
    from inferonomics.optimize.serving_step import prefetch

    options = problem.options() if options is None else options
    wl = problem.workload
    bases: dict[int, list] = {}  # by id: the platforms outlive this call
    for o in options:
        if id(o.platform) not in bases:
            bases[id(o.platform)] = platform_vector(o.platform, wl)
    evals = [bind_option(o, problem, bases[id(o.platform)]) for o in options]
    groups: dict = {}
    for ev in evals:
        o = ev.option
        if o.platform.serving is not None and weights_fit(ev, problem):
            groups.setdefault(o.platform.serving, []).append((o.tp, o.ep, max(memory_cap(ev, problem)[0], 1),
                                                              o.attention_dp, o.pp, o.speculation))
    for spec, items in groups.items():
        prefetch(spec, items, wl.isl, wl.osl, wl.mixed)
    return [_limit(ev, problem) for ev in evals]
