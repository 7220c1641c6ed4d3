"""The continuous relaxation of the tensor-parallel degree: the real ``t`` of the fastest batch-1 step."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache

from inferonomics.symbolic import model as M
from inferonomics.symbolic.evaluate import ARGS, bind_values, positional
from inferonomics.symbolic.numeric import compile_scalar

from inferonomics.optimize.step_compiled import INDEX

def relaxed_tp_degree(values: Mapping[str, float], policy: str = "step") -> float:
    """The continuous relaxation of the TP choice: the real ``t >= 1`` minimizing the batch-1 step time
    (symbolic.model's t_step at B = 1), by ``scipy.optimize.minimize`` over log t. With the closed form's
    assumptions (memory-bound, no KV, latency-only all-reduce) it equals ``optimal_tp_degree``; the solver
    itself compares the integer neighbours on the full model."""
    import numpy as np
    from scipy.optimize import minimize

    vec = positional(bind_values(dict(values, batch=1.0, tp=1.0)))
    fn = _batch1_step(policy)
    it = INDEX["tp"]

    def f(z: np.ndarray) -> float:
        vec[it] = float(np.exp(z[0]))
        return fn(*vec) / 1e-3  # milliseconds keep the gradient well scaled

    res = minimize(f, x0=np.array([math.log(8.0)]), bounds=[(0.0, math.log(1e5))], method="L-BFGS-B",
                   options={"ftol": 1e-15, "gtol": 1e-12})
    return float(np.exp(res.x[0]))

@cache
def _batch1_step(policy: str) -> Callable[..., float]:
    return compile_scalar(ARGS, M.t_step(policy))
