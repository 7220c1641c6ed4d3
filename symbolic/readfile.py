"""Reading an input file the user named, safely: regular files only, a byte cap, UTF-8 or a SpecError.

A path such as /dev/zero or /dev/urandom reports size 0 and never ends; a FIFO blocks; a directory fails
late with a confusing message. Every loader of user files (catalog TOML, config.json, formula JSON,
calibration TOML, measurement CSV) reads through here, so each of those becomes one line naming the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import SpecError

#: default cap on one input file: far above any real config, catalog entry or measurement CSV
MAX_INPUT_BYTES = 256 * 1024 * 1024


def read_bytes(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``); anything else raises SpecError."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise SpecError(p, what, f"a readable file ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError(p, what, "a file, not a directory")
    if not stat.S_ISREG(st.st_mode):
        raise SpecError(p, what, "a regular file (not a device, pipe or socket)")
    if st.st_size > max_bytes:
        raise SpecError(p, what, f"a file of at most {max_bytes:,} bytes (it has {st.st_size:,})")
    try:
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)  # the file may grow between stat and read
    except OSError as exc:
        raise SpecError(p, what, f"a readable file ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise SpecError(p, what, f"a file of at most {max_bytes:,} bytes")
    return data


def read_text(path: str | os.PathLike, what: str = "file", max_bytes: int = MAX_INPUT_BYTES,
              encoding: str = "utf-8") -> str:
    """``read_bytes`` decoded as UTF-8 (``utf-8-sig`` drops a byte-order mark); bad bytes raise SpecError
    naming the byte offset."""
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SpecError(Path(path), what, f"UTF-8 text (byte {exc.start} is not: {exc.reason})") from None
