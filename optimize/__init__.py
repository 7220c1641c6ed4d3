"""inferonomics.optimize: SciPy-based deployment search, calibration and the CLI.

The public surface is listed in ``__all__`` and loaded lazily (PEP 562): the CLI imports only what a
command needs, and SciPy loads only when a solver runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferonomics.symbolic.lazy import lazy_surface

if TYPE_CHECKING:  # the same names as _SURFACE, for type checkers (tests/test_types.py checks they match)
    from inferonomics.optimize.calibration import load_calibration as load_calibration
    from inferonomics.optimize.constraints import Demand as Demand
    from inferonomics.optimize.constraints import Workload as Workload
    from inferonomics.optimize.essay import seed_deployment as seed_deployment
    from inferonomics.optimize.fleet import solve_fleet as solve_fleet
    from inferonomics.optimize.pareto import frontier as frontier
    from inferonomics.optimize.problem import Problem as Problem
    from inferonomics.optimize.result import DeploymentResult as DeploymentResult
    from inferonomics.optimize.result import Status as Status
    from inferonomics.optimize.solver import solve as solve
    from inferonomics.optimize.space import DecisionSpace as DecisionSpace
    from inferonomics.optimize.space import build_space as build_space
    from inferonomics.optimize.sweep import sweep as sweep
    from inferonomics.optimize.tp_relax import relaxed_tp_degree as relaxed_tp_degree
    from inferonomics.optimize.user_base import users_at_utilization as users_at_utilization

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
