"""inferonomics.symbolic: the symbolic serving model (SymPy only; never SciPy, never optimize).

The public surface is listed in ``__all__`` and loaded lazily (PEP 562), so that importing one
module (the CLI's start-up path) does not pay for the catalog, the exporters or the documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferonomics.symbolic.lazy import lazy_surface

if TYPE_CHECKING:  # the same names as _SURFACE, for type checkers (tests/test_types.py checks they match)
    from inferonomics.symbolic import architecture as architecture
    from inferonomics.symbolic import catalog as catalog
    from inferonomics.symbolic import economics as economics
    from inferonomics.symbolic import model as model
    from inferonomics.symbolic import moe as moe
    from inferonomics.symbolic import symbols as symbols
    from inferonomics.symbolic.closedform import ClosedForm as ClosedForm
    from inferonomics.symbolic.closedform import Step as Step
    from inferonomics.symbolic.errors import InferonomicsError as InferonomicsError
    from inferonomics.symbolic.evaluate import StepResult as StepResult
    from inferonomics.symbolic.evaluate import evaluate_step as evaluate_step
    from inferonomics.symbolic.export import export as export
    from inferonomics.symbolic.export import load_formula as load_formula
    from inferonomics.symbolic.formulas import all_formulas as all_formulas
    from inferonomics.symbolic.formulas import get_formula as get_formula
    from inferonomics.symbolic.hf_config import model_from_hf_config as model_from_hf_config
    from inferonomics.symbolic.numeric import compile_numpy as compile_numpy
    from inferonomics.symbolic.numeric import compile_record as compile_record

_SURFACE = {
    # name: (module, attribute or None for the module itself)
    "symbols": ("symbols", None), "model": ("model", None), "economics": ("economics", None),
    "catalog": ("catalog", None), "moe": ("moe", None), "architecture": ("architecture", None),
    "ClosedForm": ("closedform", "ClosedForm"), "Step": ("closedform", "Step"),
    "all_formulas": ("formulas", "all_formulas"), "get_formula": ("formulas", "get_formula"),
    "evaluate_step": ("evaluate", "evaluate_step"), "StepResult": ("evaluate", "StepResult"),
    "export": ("export", "export"), "load_formula": ("export", "load_formula"),
    "compile_numpy": ("numeric", "compile_numpy"), "compile_record": ("numeric", "compile_record"),
    "model_from_hf_config": ("hf_config", "model_from_hf_config"),
    "InferonomicsError": ("errors", "InferonomicsError"),
}

__all__, __getattr__, __dir__ = lazy_surface("inferonomics.symbolic", globals(), _SURFACE)
