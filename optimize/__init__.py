"""inferonomics.optimize: SciPy-based deployment search, calibration and the CLI.

The public surface is listed in ``__all__`` and loaded lazily (PEP 562): the CLI imports only what a
command needs, and SciPy loads only when a solver runs.
"""

from __future__ import annotations

from inferonomics.symbolic.lazy import lazy_surface

_SURFACE = {
    "Problem": ("problem", "Problem"), "solve": ("solver", "solve"),
    "users_at_utilization": ("user_base", "users_at_utilization"),
    "relaxed_tp_degree": ("tp_relax", "relaxed_tp_degree"),
    "build_space": ("space", "build_space"), "DecisionSpace": ("space", "DecisionSpace"),
    "Workload": ("constraints", "Workload"), "Demand": ("constraints", "Demand"),
    "DeploymentResult": ("result", "DeploymentResult"), "Status": ("result", "Status"),
    "solve_fleet": ("fleet", "solve_fleet"), "frontier": ("pareto", "frontier"), "sweep": ("sweep", "sweep"),
    "seed_deployment": ("essay", "seed_deployment"),
    "load_calibration": ("calibration", "load_calibration"),
}

__all__, __getattr__, __dir__ = lazy_surface("inferonomics.optimize", globals(), _SURFACE)
