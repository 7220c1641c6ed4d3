"""Small shared CLI helpers: JSON printing, number flags, atomic file writes."""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from pathlib import Path

from inferonomics.symbolic.errors import InvalidInputError


def print_json(obj: object) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, allow_nan=False, default=_default))


def _default(o: object) -> object:
    if hasattr(o, "item"):  # numpy scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _number_type(expected: str, ok, *, integer: bool = False):
    """An argparse type accepting finite numbers for which ``ok(x)`` holds; anything else (NaN, inf,
    text, out of range) is refused with one line saying what was expected."""

    def parse(text: str):
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        if not math.isfinite(x) or not ok(x) or (integer and x != int(x)):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return int(x) if integer else x

    parse.__name__ = expected  # argparse names the type in some messages
    return parse


#: a finite number > 0 (zero, negatives, NaN and inf are refused)
positive_float = _number_type("a finite number > 0", lambda x: x > 0)
#: a finite number >= 0
nonnegative_float = _number_type("a finite number >= 0", lambda x: x >= 0)
#: a whole number >= 1 ("8" or "8.0", not "8.5")
positive_int = _number_type("a positive integer", lambda x: x >= 1, integer=True)
#: a batch: a finite number >= 1
batch_value = _number_type("a number >= 1", lambda x: x >= 1)


def ensure_writable(path: str | os.PathLike, flag: str = "-o") -> Path:
    """Fail fast, before a long computation, when ``path``'s folder cannot be created or written."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(flag, f"a writable path ({exc.strerror})", str(p)) from None
    if not os.access(p.parent, os.W_OK) or p.is_dir():
        raise InvalidInputError(flag, "a writable file path", str(p))
    return p


def write_atomic(path: str | os.PathLike, data: str | bytes, flag: str = "-o") -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and os.replace, so a
    failure never leaves a half-written file. Unwritable paths raise InvalidInputError naming ``flag``."""
    p = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInputError(flag, f"a writable path ({exc.strerror})", str(p)) from None
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8", "newline": "\n"})) as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a normal file honours the umask
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
