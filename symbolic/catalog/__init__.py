"""The catalog: hardware, models and precisions as data (one TOML per item), looked up by name and bound
to the symbol table of :mod:`inferonomics.symbolic.symbols`."""

from __future__ import annotations

from .binding import bind as bind
from .binding import default_activation_precision as default_activation_precision
from .binding import hardware_values as hardware_values
from .binding import model_values as model_values
from .loader import load_hardware_file as load_hardware_file
from .loader import load_kind, lookup
from .loader import load_model_file as load_model_file
from .names import Resolved as Resolved
from .names import register as register_model
from .names import resolve as resolve_model
from .schema import Architecture as Architecture
from .schema import Hardware as Hardware
from .schema import Model as Model
from .schema import Precision as Precision
from .schema import Source as Source


def hardware(name: str) -> Hardware:
    """A hardware record by name, display name or alias (case-insensitive); UnknownNameError otherwise."""
    return lookup("hardware", name)


def model(name: str) -> Model:
    """A model record by name, display name or alias (case-insensitive), or by a checkpoint name as serving
    engines write it (``nvidia/Llama-3.1-8B-Instruct-FP8``: see :func:`resolve_model`, which also returns the
    precision such a name states); UnknownNameError otherwise."""
    return resolve_model(name).model


def precision(name: str) -> Precision:
    """A precision record by name or alias (case-insensitive); UnknownNameError otherwise."""
    return lookup("precisions", name)


def list_hardware() -> tuple[str, ...]:
    return tuple(load_kind("hardware"))


def list_models() -> tuple[str, ...]:
    return tuple(load_kind("models"))


def list_precisions() -> tuple[str, ...]:
    return tuple(load_kind("precisions"))


def load_all() -> None:
    """Read and validate every catalog file now (each kind is cached after its first load)."""
    for kind in ("hardware", "models", "precisions"):
        load_kind(kind)


__all__ = [
    "Architecture", "Hardware", "Model", "Precision", "Resolved", "Source", "bind", "default_activation_precision",
    "hardware", "hardware_values", "list_hardware", "list_models", "list_precisions", "load_all", "load_hardware_file",
    "load_model_file", "model", "model_values", "precision", "register_model", "resolve_model",
]
