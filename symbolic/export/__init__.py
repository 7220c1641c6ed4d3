"""Code and document exporters for closed-form records: one entry, ``export(record, fmt)``.

Formats: ``latex`` (``NAME.tex``), ``python`` (``NAME.py``, scalars, ``math``), ``numpy``
(``NAME_np.py``, vectorised), ``c`` (``NAME.h`` + ``NAME.c``, C99), ``javascript`` (``NAME.mjs``,
ES module) and ``json`` (``NAME.json``, the tree schema of ``tree.py``). Every file starts with a
provenance header; every code format guards the validity conditions by returning NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferonomics.symbolic.errors import UnknownNameError
from inferonomics.symbolic.export.json_import import LoadedFormula as LoadedFormula
from inferonomics.symbolic.export.json_import import load_formula as load_formula
from inferonomics.symbolic.export.names import check_identifier as check_identifier
from inferonomics.symbolic.export.provenance import GUARD_POLICY as GUARD_POLICY
from inferonomics.symbolic.export.to_c import export_c
from inferonomics.symbolic.export.to_javascript import export_javascript
from inferonomics.symbolic.export.to_json import export_json
from inferonomics.symbolic.export.to_latex import export_latex
from inferonomics.symbolic.export.to_numpy import export_numpy
from inferonomics.symbolic.export.to_python import export_python

_EXPORTERS: dict[str, Callable[..., dict[str, str]]] = {
    "latex": export_latex,
    "python": export_python,
    "numpy": export_numpy,
    "c": export_c,
    "javascript": export_javascript,
    "json": export_json,
}
FORMATS: tuple[str, ...] = tuple(_EXPORTERS)


def export(record: Any, fmt: str, *, steps: bool = False, basename: str | None = None) -> dict[str, str]:
    """Generate the files of ``record`` in format ``fmt``: ``{filename: content}``.

    Parameters
    ----------
    record : ClosedForm or LoadedFormula
        Arguments are printed in ``record.args`` order.
    fmt : str
        One of :data:`FORMATS`.
    steps : bool
        LaTeX: add the derivation; JSON: add the steps so ``load_formula`` rebuilds a ClosedForm.
    basename : str, optional
        File stem instead of the formula name (the C source then includes ``basename.h``).

    Raises
    ------
    UnknownNameError
        ``fmt`` is not a known format (with close-match suggestions).
    UnsafeFormulaError
        A name is not a plain identifier, or the expression holds a node no format can print.
    """
    try:
        exporter = _EXPORTERS[fmt]
    except (KeyError, TypeError):
        raise UnknownNameError("format", str(fmt), FORMATS) from None
    return exporter(record, basename=basename, steps=steps)


__all__ = ["FORMATS", "GUARD_POLICY", "LoadedFormula", "check_identifier", "export", "load_formula"]
