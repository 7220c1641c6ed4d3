"""inferonomics.symbolic: the symbolic serving model (SymPy only; never SciPy, never optimize).

The public surface is listed in ``__all__`` and loaded lazily (PEP 562), so that importing one
module (the CLI's start-up path) does not pay for the catalog, the exporters or the documents.
"""

from __future__ import annotations

from inferonomics.symbolic.lazy import lazy_surface

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
