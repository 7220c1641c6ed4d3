"""The one error tree of inferonomics: every error is an InferonomicsError and the builtin a caller would catch."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InferonomicsError(Exception):
    """Base of every error this package raises on purpose.

    Errors pickle (multiprocessing, joblib, a worker pool) with their message, their named fields and any
    attribute added later (``add_note``'s ``__notes__``): a subclass whose ``__init__`` takes fields rather
    than the message names them in ``_fields``, and ``__reduce__`` calls ``__init__`` with them again.
    """

    _fields: tuple[str, ...] = ()  # empty: ``__init__`` takes ``args`` as Exception's does

    def __reduce__(self) -> tuple[type, tuple[object, ...], dict[str, object]]:
        args = tuple(getattr(self, f) for f in self._fields) if self._fields else self.args
        return type(self), args, self.__dict__


class InvalidInputError(InferonomicsError, ValueError):
    """A value is out of its domain (zero, negative, NaN, infinite, not an integer...).

    ``name`` is the argument, ``expected`` says what it must be, ``got`` is what came.
    """

    _fields: tuple[str, ...] = ("name", "expected", "got")

    def __init__(self, name: str, expected: str, got: object = None):
        self.name, self.expected, self.got = name, expected, got
        got_text = "" if got is None else f", got {got!r}"
        super().__init__(f"{name}: expected {expected}{got_text}")


class NoEfficienciesError(InvalidInputError):
    """A formula whose result involves no step time (a user base, a count of chips) carries no efficiencies, so
    it has no general form and takes no calibration."""

    _fields = ("formula", "general")  # the base's __reduce__ then keeps notes and added attributes too

    def __init__(self, formula: str, general: tuple[str, ...] = ()):
        self.formula, self.general = formula, tuple(general)
        super().__init__("formula", "one that carries efficiencies (" + ", ".join(self.general) + ")",
                         f"{formula} (no step time in it)")


class UnknownNameError(InferonomicsError, KeyError):
    """A name (hardware, model, precision, formula, format...) is not known; suggests close matches."""

    _fields = ("kind", "name", "known")

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name = kind, name
        self.known = sorted(known)
        close = difflib.get_close_matches(name.lower(), [k.lower() for k in self.known], n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SpecError(InferonomicsError, ValueError):
    """A data file (catalog TOML, config.json, calibration, measurement CSV) is malformed.

    Names the file, the field or line, and what was expected.
    """

    _fields = ("path", "field", "expected")

    def __init__(self, path: object, field: str, expected: str):
        self.path, self.field, self.expected = path, field, expected
        super().__init__(f"{path}: {field}: {expected}")


class UnsafeFormulaError(InferonomicsError, ValueError):
    """A formula (JSON tree or symbol name) tries to reach code or uses an unknown node."""


class ConditionError(InferonomicsError, ValueError):
    """A closed form was evaluated where its validity condition fails."""


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is finite and > 0 (or >= 0), else raise InvalidInputError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(name, "a number", value) from None
    if x != x or x in (float("inf"), float("-inf")):
        raise InvalidInputError(name, "a finite number", value)
    if x < 0 or (x == 0 and not allow_zero):
        raise InvalidInputError(name, "a number >= 0" if allow_zero else "a number > 0", value)
    return x


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a whole number >= 1, else raise InvalidInputError."""
    x = check_positive(name, value)  # type: ignore[arg-type]
    if x != int(x):
        raise InvalidInputError(name, "a positive integer", value)
    return int(x)
