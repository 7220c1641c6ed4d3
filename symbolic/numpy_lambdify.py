"""``lambdify`` to NumPy without the cost of SymPy's NumPy namespace.

``lambdify(..., "numpy")`` runs ``from numpy import *`` on first use, which loads numpy.f2py and
numpy.testing (~0.25 s, a sixth of the CLI's start-up budget). The generated code refers only to
``numpy.*`` (and ``functools.reduce`` for Max/Min of three or more), so a namespace holding just those
modules gives the same function for a tenth of the cost.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

_NAMESPACE = {"numpy": numpy, "functools": functools, "math": math}


def lambdify_numpy(args: Sequence[sp.Symbol], expr, *, cse: bool = True) -> Callable:
    """Same as ``sympy.lambdify(args, expr, "numpy", cse=cse)``, fast to build.

    Callers must pass symbols with plain-identifier names (see export.names): lambdify prints names
    into code it executes.
    """
    return sp.lambdify(tuple(args), expr, modules=[_NAMESPACE], printer=NumPyPrinter(), cse=cse)
