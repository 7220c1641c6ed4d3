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


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (zero, negatives, NaN and inf are refused)."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return x


def nonnegative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not math.isfinite(x) or x < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return x


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 ("8" or "8.0", not "8.5")."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not math.isfinite(x) or x < 1 or x != int(x):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(x)


def batch_value(text: str) -> float:
    """argparse type for a batch: a finite number >= 1."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}") from None
    if not math.isfinite(x) or x < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return x


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and os.replace, so a
    failure never leaves a half-written file. Unwritable paths raise InvalidInputError."""
    p = Path(path)
    mode = "wb" if isinstance(data, bytes) else "w"
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    except OSError as exc:
        raise InvalidInputError("-o", f"a writable path ({exc.strerror})", str(p)) from None
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
