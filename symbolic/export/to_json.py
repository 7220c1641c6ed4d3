"""Export a closed form as JSON: the expression tree (schema in ``tree.py``) plus its metadata.

Keys: ``schema``, ``provenance``, ``name``, ``notation``, ``meaning``, ``unit``, ``policy``,
``assumptions``, ``args`` (in the record's order, each with ``name``, ``unit``, ``latex``,
``meaning`` from the symbol table, ``null`` for a name outside it), ``expr``, ``conditions``
(each ``{"tree", "text"}``), ``error_bound`` (for an approximation, the tree of its bound on
``|expr - root|/root``; ``null`` when ``expr`` is exact) and ``sha256`` (of the canonical
``{"args", "conditions", "expr"}``); a calibrated record (``export --calibrated``) adds ``calibration``
(``{"source", "values"}``: the sentence naming the calibration, and the efficiency and fixed-cost values
substituted).
With ``steps=True`` also ``unknown``, ``residual``, ``steps`` (each ``{"lhs", "rhs", "why"}``) and
``bracket``, enough for ``load_formula`` to rebuild the full ClosedForm.
"""

from __future__ import annotations

import json
from typing import Any

from inferonomics.symbolic.symbols import TABLE
from inferonomics.symbolic.export.provenance import provenance
from inferonomics.symbolic.export.routine import make_routine
from inferonomics.symbolic.export.tree import symbol_node, to_tree, tree_hash

SCHEMA = "inferonomics.formula/1"
EXTENSION = ".json"


def arg_entry(sym: Any) -> dict[str, Any]:
    node = symbol_node(sym)
    info = TABLE.get(sym.name)
    entry = {
        "name": node["symbol"],
        "unit": None if info is None else str(info.unit),
        "latex": None if info is None else info.latex,
        "meaning": None if info is None else info.meaning,
    }
    if "assumptions" in node:
        entry["assumptions"] = node["assumptions"]
    return entry


def to_document(record: Any, *, steps: bool = False) -> dict[str, Any]:
    """The JSON document of ``record`` as a dict (``export`` serialises it)."""
    make_routine(record)  # the same name checks as every code format
    expr = to_tree(record.expr)
    conditions = [to_tree(c) for c in record.conditions]
    names = [a.name for a in record.args]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "provenance": provenance(record),
        "name": record.name,
        "notation": record.notation,
        "meaning": record.meaning,
        "unit": str(record.unit),
        "policy": str(record.policy),
        "assumptions": list(record.assumptions),
        "args": [arg_entry(a) for a in record.args],
        "expr": expr,
        "conditions": [{"tree": t, "text": text} for t, text in zip(conditions, record.condition_text)],
        "error_bound": None if getattr(record, "error_bound", None) is None else to_tree(record.error_bound),
        "sha256": tree_hash(expr, names, conditions),
    }
    values = getattr(record, "extra", {}).get("calibration_values")
    if values:  # a calibrated record: which calibration, and the values substituted for the efficiencies
        doc["calibration"] = {"source": doc["provenance"]["calibration"], "values": dict(values)}
    if steps and getattr(record, "steps", None) is not None:
        doc["unknown"] = to_tree(record.unknown, doc=True)
        doc["residual"] = to_tree(record.residual, doc=True)
        doc["steps"] = [{"lhs": to_tree(s.lhs, doc=True), "rhs": to_tree(s.rhs, doc=True), "why": s.why}
                        for s in record.steps]
        bracket = getattr(record, "bracket", None)
        doc["bracket"] = None if bracket is None else [to_tree(b) for b in bracket]
    return doc


def export_json(record: Any, *, basename: str | None = None, steps: bool = False) -> dict[str, str]:
    """One file ``NAME.json``; ``steps=True`` adds the derivation so the full record can be rebuilt."""
    text = json.dumps(to_document(record, steps=steps), indent=1, ensure_ascii=False, allow_nan=False)
    return {f"{basename or record.name}{EXTENSION}": text + "\n"}
