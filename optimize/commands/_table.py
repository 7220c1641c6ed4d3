"""Text formatting shared by the commands: aligned tables and numbers with units (JSON is never formatted here).

Conventions: utilization is a fraction inside and in JSON and a percent in text (:func:`pct`); sizes and rates
take SI prefixes (80 GB, 3.35 TB/s, 989 TFLOP/s: :func:`si`); a missing value prints as ``-``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_PREFIXES = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
MISSING = "-"


def si(x: float | None, unit: str, digits: int = 3) -> str:
    """``si(8e10, "B") == "80 GB"``, ``si(3.35e12, "B/s") == "3.35 TB/s"``: ``digits`` significant digits."""
    if x is None or not math.isfinite(x):
        return MISSING
    for scale, prefix in _PREFIXES:
        if abs(x) >= scale:
            return f"{x / scale:.{digits}g} {prefix}{unit}"
    return f"{x:.{digits}g} {unit}".rstrip()


def pct(fraction: float | None, decimals: int = 1) -> str:
    """A fraction as a percent: ``pct(0.4567) == "45.7%"``."""
    if fraction is None or not math.isfinite(fraction):
        return MISSING
    return f"{fraction * 100:.{decimals}f}%"


def num(x: float | None, digits: int = 4) -> str:
    """A plain number: from 1000 up, whole with thousands separators; below, ``digits`` significant digits."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return MISSING
    if isinstance(x, int):
        return f"{x:,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def usd(x: float | None) -> str:
    return MISSING if x is None or not math.isfinite(x) else f"${x:,.{2 if abs(x) >= 1 else 4}f}"


def _is_number(text: str) -> bool:
    t = text.replace(",", "").replace("$", "").replace("%", "").split(" ")[0]
    try:
        float(t)
    except ValueError:
        return text == MISSING
    return True


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "") -> str:
    """Rows of cells under headers, columns two spaces apart; a column of numbers is right-aligned."""
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    right = [bool(cells) and all(_is_number(r[i]) for r in cells) for i in range(len(headers))]

    def line(items: Sequence[str]) -> str:
        return indent + "  ".join(s.rjust(w) if r else s.ljust(w)
                                  for s, w, r in zip(items, widths, right)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


_SMALL = ((1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"))


def seconds(x: float) -> str:
    """``seconds(2e-6) == "2 µs"``."""
    for scale, prefix in _SMALL:
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}s"
    return f"{x:.3g} s"


#: key suffix -> formatter, longest first: how `show` prints a catalog figure with its unit
_UNITS = (
    ("_bytes_per_token", lambda x: si(x, "B") + " per token"),
    ("_elements_per_token", lambda x: f"{num(x)} per token"),
    ("_bytes_per_s", lambda x: si(x, "B/s")),
    ("_flop_per_byte", lambda x: f"{x:.4g} FLOP/B"),
    ("_flop_per_s", lambda x: si(x, "FLOP/s")),
    ("_bytes", lambda x: si(x, "B")),
    ("_params", lambda x: f"{x / 1e9:.4g} billion"),
    ("_latency_s", seconds),
    ("_w", lambda x: f"{x:.4g} W"),
)


def figure(key: str, value: object) -> str:
    """A catalog figure with its unit, chosen by the key's SI suffix (DESIGN: unit-suffixed names at the edges)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or key == "year":
        return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    for suffix, fmt in _UNITS:
        if key.endswith(suffix):
            return fmt(float(value))
    return num(value)
