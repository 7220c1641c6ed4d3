"""Model names as serving engines write them (Hugging Face repo ids) resolved to a catalog entry and a precision.

Engines name a checkpoint, not an architecture: ``nvidia/Llama-3.1-8B-Instruct-FP8`` is Llama-3.1-8B's
architecture with FP8 weights, ``meta-llama/Llama-3.1-70B-Instruct`` is Llama-3.1-70B's, ``deepseek-ai/DeepSeek-R1``
is DeepSeek-V3's (an alias of that entry). The resolver tries the name as written, then without the
organisation, then strips trailing words that change the weights' precision (``-FP8``, ``-NVFP4``, ...) or only
the training (``-Instruct``, ``-Chat``, a date), one at a time from the end. Models read from a measurement
folder's ``configs/*.json`` are registered here and resolved after the catalog's own entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import UnknownNameError
from .loader import _norm, load_kind, lookup
from .schema import Model

#: a trailing word of a checkpoint name -> the catalog precision of its weights
PRECISION_WORDS: Mapping[str, str] = {
    "fp8": "fp8", "fp8-dynamic": "fp8", "fp4": "fp4", "nvfp4": "fp4", "mxfp4": "mxfp4", "int4": "int4",
    "awq": "int4", "gptq": "int4", "w4a16": "int4", "int8": "int8", "w8a8": "int8", "bf16": "bf16", "fp16": "fp16",
}
#: trailing words that name a fine-tune or a release of the same architecture
_VARIANT = re.compile(r"^(instruct|chat|it|base|hf|thinking|preview|\d{4}|v\d+(\.\d+)*)$")

_REGISTERED: dict[str, Model] = {}


@dataclass(frozen=True)
class Resolved:
    """A name resolved: the catalog (or registered) model and the precision its name states, if any."""

    model: Model
    precision: str | None  # from a suffix such as -FP8; None: the name says nothing, use the model's own

    @property
    def weight_precision(self) -> str:
        return self.precision or self.model.weight_precision


def register(model: Model) -> None:
    """Make a model read outside the catalog (a measurement folder's config.json) resolvable by its name."""
    _REGISTERED[_norm(model.name)] = model


def registered() -> tuple[str, ...]:
    return tuple(m.name for m in _REGISTERED.values())


def _find(name: str) -> Model | None:
    try:
        return lookup("models", name)
    except UnknownNameError:
        return _REGISTERED.get(_norm(name))


def _split_words(name: str) -> tuple[str, str | None]:
    """Strip trailing precision and variant words: ("Llama-3.1-8B", "fp8") from "Llama-3.1-8B-Instruct-FP8"."""
    words = name.split("-")
    precision = None
    while len(words) > 1:
        last = words[-1].lower()
        two = "-".join(words[-2:]).lower()
        if two in PRECISION_WORDS and len(words) > 2:
            precision, words = precision or PRECISION_WORDS[two], words[:-2]
        elif last in PRECISION_WORDS:
            precision, words = precision or PRECISION_WORDS[last], words[:-1]
        elif _VARIANT.match(last):
            words = words[:-1]
        else:
            break
    return "-".join(words), precision


def resolve(name: str) -> Resolved:
    """Resolve an engine's model name; UnknownNameError (with close matches) when nothing fits."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownNameError("model", repr(name), load_kind("models"))
    name = name.strip()
    bare = name.rsplit("/", 1)[-1]
    for candidate in (name, bare):
        hit = _find(candidate)
        if hit is not None:
            return Resolved(hit, None)
    base, precision = _split_words(bare)
    org = name[: -len(bare)]
    for candidate in (org + base, base):
        hit = _find(candidate)
        if hit is not None:
            return Resolved(hit, precision)
    known = [*load_kind("models"), *registered()]
    raise UnknownNameError("model", name, known)
