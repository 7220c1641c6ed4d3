"""Units of the symbol table: short strings at run time, sympy.physics.units quantities on demand.

Importing sympy.physics.units costs ~0.25 s, more than the rest of the CLI's start-up, so the
table stores unit strings and only the dimensional checks (tests, documents) build quantities.
"""

from __future__ import annotations

from functools import cache

one = "1"
second = "s"
byte = "byte"
flop_per_s = "FLOP/s"
byte_per_s = "byte/s"
usd = "USD"
usd_per_hour = "USD/h"
watt = "W"
joule = "J"
per_second = "1/s"
flop_per_byte = "FLOP/byte"

#: every unit string the table may use
UNITS = (one, second, byte, flop_per_s, byte_per_s, usd, usd_per_hour, watt, joule, per_second, flop_per_byte)


@cache
def quantity(unit: str):
    """The sympy.physics.units expression of a unit string."""
    from sympy import Integer
    from sympy.physics import units as u
    from sympy.physics.units import Dimension, Quantity
    from sympy.physics.units.systems.si import SI

    # A FLOP is a count (the 2 in "2 FLOPs per parameter per token" is a pure number), so it is
    # dimensionless; money is not an SI dimension, so US dollars get a base dimension of their own
    # and the dimensional test can tell a price from a time.
    flop = Quantity("flop", abbrev="FLOP")
    SI.set_quantity_dimension(flop, Dimension(1))
    SI.set_quantity_scale_factor(flop, Integer(1))
    dollar = Quantity("usd", abbrev="USD")
    SI.set_quantity_dimension(dollar, Dimension("currency"))
    SI.set_quantity_scale_factor(dollar, Integer(1))
    table = {
        one: Integer(1), second: u.second, byte: u.byte, flop_per_s: flop / u.second,
        byte_per_s: u.byte / u.second, usd: dollar, usd_per_hour: dollar / u.hour,
        watt: u.watt, joule: u.joule, per_second: 1 / u.second, flop_per_byte: flop / u.byte,
    }
    return table[unit]


def dimension_of(unit: str) -> dict[str, int]:
    """Base-dimension exponents of a unit string, e.g. "byte/s" -> {'information': 1, 'time': -1}."""
    from sympy.physics.units import Dimension
    from sympy.physics.units.systems.si import SI

    q = quantity(unit)
    if q == 1:
        return {}
    dim = SI.get_dimensional_expr(q)
    deps = SI.get_dimension_system().get_dimensional_dependencies(Dimension(dim))
    return {str(getattr(k, "name", k)): int(v) for k, v in deps.items()}
