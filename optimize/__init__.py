"""inferonomics.optimize: SciPy-based deployment search, calibration and the CLI.

The public surface is listed in ``__all__`` and loaded lazily (PEP 562): the CLI imports only what a
command needs, and SciPy loads only when a solver runs.
"""

from __future__ import annotations

import importlib

_SURFACE = {
    "Problem": ("solver", "Problem"), "solve": ("solver", "solve"),
    "users_at_utilization": ("solver", "users_at_utilization"), "relaxed_tp_degree": ("solver", "relaxed_tp_degree"),
    "build_space": ("space", "build_space"), "DecisionSpace": ("space", "DecisionSpace"),
    "Workload": ("constraints", "Workload"), "Demand": ("constraints", "Demand"),
    "DeploymentResult": ("result", "DeploymentResult"), "Status": ("result", "Status"),
    "solve_fleet": ("fleet", "solve_fleet"), "frontier": ("pareto", "frontier"), "sweep": ("sweep", "sweep"),
    "seed_deployment": ("essay", "seed_deployment"),
    "load_calibration": ("calibration", "load_calibration"),
}

__all__ = sorted(_SURFACE)


def __getattr__(name: str):
    if name not in _SURFACE:
        raise AttributeError(f"module 'inferonomics.optimize' has no attribute {name!r}")
    module, attr = _SURFACE[name]
    value = getattr(importlib.import_module(f"inferonomics.optimize.{module}"), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
