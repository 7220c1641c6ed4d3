"""Small shared CLI helpers: JSON printing, number flags, atomic file writes (one file or a set)."""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import stat
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
def fraction_or_percent(text: str) -> float:
    """A share in (0, 1]: ``0.3`` or ``30%`` (text shows utilization as a percent, so input may use one too)."""
    t = text.strip()
    pct = t.endswith("%")
    try:
        x = float(t[:-1] if pct else t) / (100 if pct else 1)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and 0 < x <= 1):
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1] or a percent in (0%, 100%], got {text!r}")
    return x


#: token counts (prompt, output, context, batch) above a billion exceed every model's window a hundredfold and
#: overflow the step model's floats further on
MAX_TOKENS = 1e9
token_count = _number_type(f"a number of tokens in (0, {MAX_TOKENS:g}]", lambda x: 0 < x <= MAX_TOKENS)


#: every temporary file or folder this package writes ends so: a killed run (SIGKILL cannot be caught)
#: leaves only names like ``.NAME.XXXXXXXX.inferonomics.tmp`` beside the target
TMP_SUFFIX = ".inferonomics.tmp"


def _stat(p: Path) -> os.stat_result | None:
    try:
        return p.stat()
    except OSError:
        return None


def _unwritable(flag: str, p: Path, exc: OSError) -> InvalidInputError:
    return InvalidInputError(flag, f"a writable path ({exc.strerror or exc})", str(p))


def image_format(path: str | os.PathLike, flag: str) -> str:
    """"png" or "svg" from the file name's suffix; anything else is refused (never PNG bytes in a .svg)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise InvalidInputError(flag, "a file name ending in .png or .svg", str(path))
    return fmt


def ensure_writable(path: str | os.PathLike, flag: str = "-o") -> Path:
    """Fail fast, before a long computation, when ``path``'s folder cannot be created or written, or
    ``path`` is a folder."""
    p = Path(path)
    st = _stat(p)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(flag, "a file path, not a folder", str(p))
    if st is not None and not stat.S_ISREG(st.st_mode):
        if not os.access(p, os.W_OK):
            raise InvalidInputError(flag, "a writable file", str(p))
        return p  # a device or pipe is written in place
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(flag, p, exc) from None
    if not os.access(p.parent, os.W_OK):
        raise InvalidInputError(flag, "a writable file path", str(p))
    return p


def _open_kw(data: str | bytes) -> dict:
    return {} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": "\n"}


def write_atomic(path: str | os.PathLike, data: str | bytes, flag: str = "-o") -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and os.replace, so a failure or
    a signal never leaves a half-written file. A target that exists and is not a regular file (/dev/null,
    /dev/stdout, a pipe) is written in place, never replaced; a folder is refused. Every OSError (no
    space, no permission) becomes an InvalidInputError naming ``flag``."""
    p = Path(path)
    st = _stat(p)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(flag, "a file path, not a folder", str(p))
    mode = "wb" if isinstance(data, bytes) else "w"
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(p, mode, **_open_kw(data)) as f:
                f.write(data)
        except OSError as exc:
            raise _unwritable(flag, p, exc) from None
        return p
    tmp = _temp_name(p)  # named before it exists, so a signal at any moment after can remove it
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, mode, **_open_kw(data)) as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # made 0600 first; a normal file honours the umask
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _unwritable(flag, p, exc) from None
    except BaseException:  # KeyboardInterrupt, or SystemExit from cli's SIGTERM handler
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _temp_name(target: Path) -> Path:
    """``.NAME.XXXXXXXX.inferonomics.tmp`` beside ``target``: random, so two runs never collide."""
    return target.parent / f".{target.name}.{secrets.token_hex(4)}{TMP_SUFFIX}"


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_set(folder: str | os.PathLike, files: dict[str, str | bytes], flag: str = "-o") -> list[Path]:
    """Write several files (relative paths -> data) under ``folder``, all or nothing where the file system
    allows: everything is written into one temporary folder first. A new ``folder`` then appears by one
    rename; into an existing one each file is renamed into place (only renames, no writing, remain).
    A failure or a signal removes the temporary folder."""
    out = Path(folder)
    st = _stat(out)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(flag, "a folder when several files are written", str(out))
    for rel in files:
        target = _stat(out / rel)
        if target is not None and stat.S_ISDIR(target.st_mode):
            raise InvalidInputError(flag, "a folder whose files are not folders", str(out / rel))
    tmp = _temp_name(out / out.name if st is not None else out)
    mode = 0o666 & ~_umask()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(tmp, 0o700)
        for rel, data in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / rel, "wb" if isinstance(data, bytes) else "w", **_open_kw(data)) as f:
                f.write(data)
            os.chmod(tmp / rel, mode)
        if st is None:
            os.chmod(tmp, 0o777 & ~_umask())
            os.rename(tmp, out)
        else:
            for rel in files:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, out / rel)
            shutil.rmtree(tmp)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _unwritable(flag, out, exc) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out / rel for rel in files]
