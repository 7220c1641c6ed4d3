"""Lazy public surfaces (PEP 562): a package lists its names, and each loads on first use.

Both packages use it so that importing one module (the CLI's start-up path) does not pay for the
catalog, the exporters, the documents or SciPy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_surface(package: str, namespace: dict, surface: Mapping[str, tuple[str, str | None]]
                 ) -> tuple[list[str], Callable, Callable]:
    """``(__all__, __getattr__, __dir__)`` for ``package``; ``surface`` maps a public name to
    ``(submodule, attribute)``, attribute None meaning the submodule itself. A loaded name is cached in
    ``namespace`` (the package's globals), so each is imported once."""
    names = sorted(surface)

    def __getattr__(name: str):
        if name not in surface:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = surface[name]
        mod = importlib.import_module(f"{package}.{module}")
        value = mod if attr is None else getattr(mod, attr)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
