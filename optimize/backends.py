"""Which serving backend runs on which hardware: ``optimize/data/backends.toml`` (vendors, with the projects'
docs as sources), read once; the optimizer never pairs a card with a backend that does not run on it."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from inferonomics.symbolic.errors import UnknownNameError


@dataclass(frozen=True)
class Backend:
    name: str
    display_name: str
    vendors: tuple[str, ...]
    source: str
    retrieved: str
    notes: str = ""


@cache
def _load() -> dict[str, Backend]:
    text = resources.files("inferonomics.optimize").joinpath("data/backends.toml").read_text(encoding="utf-8")
    return {name: Backend(name, d["display_name"], tuple(d["vendors"]), d["source"], d["retrieved"], d.get("notes", ""))
            for name, d in tomllib.loads(text).items()}


#: backend names, in the order the data file gives them
BACKENDS: tuple[str, ...] = tuple(_load())


def backend(name: str) -> Backend:
    try:
        return _load()[name]
    except KeyError:
        raise UnknownNameError("backend", name, BACKENDS) from None


def why_not(name: str, hardware) -> str | None:
    """None if backend ``name`` runs on catalog ``hardware``, else the reason in words (with the source)."""
    b = backend(name)
    if hardware.vendor in b.vendors:
        return None
    return (f"{b.display_name} ({name}) does not run on {hardware.vendor} hardware (it runs on "
            f"{', '.join(b.vendors)}; {b.source.split(' ')[0]})")


def backends_for(hardware) -> tuple[str, ...]:
    """The backends that run on ``hardware``."""
    return tuple(n for n in BACKENDS if why_not(n, hardware) is None)
