"""Export a closed form as a LaTeX fragment: the equation, its conditions and, with steps, the derivation.

Expressions print through ``closedform.to_latex`` (SymPy's LatexPrinter with the symbol table's
names), the one place every document gets its notation from; only prose is escaped here.
"""

from __future__ import annotations

import re
from typing import Any

from inferonomics.symbolic.closedform import to_latex
from inferonomics.symbolic.export.provenance import calibration
from inferonomics.symbolic.export.routine import make_routine

EXTENSION = ".tex"
_SPECIAL = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "$": r"\$"}
_INLINE_MATH = re.compile(r"(\$[^$\n]+\$)")


def escape_text(text: str) -> str:
    """Escape LaTeX specials in prose; ``$...$`` spans pass through as inline math."""
    parts = _INLINE_MATH.split(" ".join(text.splitlines()))
    return "".join(p if i % 2 else "".join(_SPECIAL.get(ch, ch) for ch in p) for i, p in enumerate(parts))


def render(record: Any, *, steps: bool = False) -> str:
    routine = make_routine(record)
    lines = [*(f"% {line}".rstrip() for line in routine.header), ""]
    lines += [f"% {record.name}: {escape_text(record.meaning)}", r"\begin{equation}",
              f"  {record.latex()}", f"  \\label{{eq:{record.name}}}", r"\end{equation}"]
    if record.conditions:
        lines.append(r"Valid when")
        lines.append(r"\begin{itemize}")
        for cond, text in zip(record.conditions_latex(), record.condition_text):
            lines.append(f"  \\item \\({cond}\\): {escape_text(text)}")
        lines.append(r"\end{itemize}")
    note = calibration(record)
    if note:  # visible in the document, not only in the header comment
        lines += ["", f"\\paragraph{{Calibration.}} {escape_text(note)}"]
    if steps and getattr(record, "steps", None):
        lines += ["", r"\paragraph{Derivation.}", r"\begin{align*}"]
        for i, step in enumerate(record.steps):
            end = r" \\" if i < len(record.steps) - 1 else ""
            lines.append(f"  {to_latex(step.lhs)} &= {to_latex(step.rhs)} && \\text{{{escape_text(step.why)}}}{end}")
        lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"


def export_latex(record: Any, *, basename: str | None = None, steps: bool = False) -> dict[str, str]:
    """One file ``NAME.tex``: equation and conditions; ``steps=True`` adds the derivation."""
    return {f"{basename or record.name}{EXTENSION}": render(record, steps=steps)}
