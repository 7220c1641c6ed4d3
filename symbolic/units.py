"""Units of the symbol table, as sympy.physics.units quantities, with FLOP and US dollar added as base units."""

from __future__ import annotations

from sympy import Expr, Integer
from sympy.physics import units as u
from sympy.physics.units import Dimension, Quantity
from sympy.physics.units.systems.si import SI

# FLOPs and money are not SI dimensions; giving them their own base dimensions lets the
# dimensional-consistency test tell a FLOP count from a byte count and a price from a time.
flop = Quantity("flop", abbrev="FLOP")
usd = Quantity("usd", abbrev="USD")
SI.set_quantity_dimension(flop, Dimension("flop"))
SI.set_quantity_scale_factor(flop, Integer(1))
SI.set_quantity_dimension(usd, Dimension("currency"))
SI.set_quantity_scale_factor(usd, Integer(1))

one = Integer(1)
second = u.second
byte = u.byte
joule = u.joule
watt = u.watt
hour = u.hour
minute = u.minute



def unit_text(unit: Expr) -> str:
    """Human text for a unit expression ("byte/second", "1" for dimensionless)."""
    if unit == one:
        return "1"
    return str(unit).replace("*", "·")


def dimension_of(unit: Expr) -> dict[str, int]:
    """Base-dimension exponents of a unit, e.g. byte/second -> {'information': 1, 'time': -1}."""
    if unit == one:
        return {}
    dim = SI.get_dimensional_expr(unit)
    deps = SI.get_dimension_system().get_dimensional_dependencies(Dimension(dim))
    return {str(k.name if hasattr(k, "name") else k): int(v) for k, v in deps.items()}
