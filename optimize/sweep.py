"""Vectorised grid evaluation: model x hardware x precision x TP x batch x context, millions of points a second.

The full decode-step expression of symbolic.model (the same one evaluate_step uses) is compiled once with
``lambdify(..., "numpy", cse=True)`` and evaluated per (hardware, precision, TP) tile on a batch x context
grid by numpy broadcasting, in chunks of batch rows small enough to stay in cache. No Python loop runs
over points.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from inferonomics.symbolic import model as M
from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.evaluate import ARGS, bind_values

from inferonomics.optimize.constraints import MemoryReserve, Workload
from inferonomics.optimize.space import DecisionSpace
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy

_INDEX = {a.name: i for i, a in enumerate(ARGS)}
#: elements per chunk (batch rows x contexts): 32 K float64 = 256 KiB, inside L2
CHUNK_ELEMENTS = 1 << 15
COLUMNS = ("model", "hardware", "precision", "tp", "batch", "context", "step_ms", "tokens_per_s",
           "tokens_per_s_per_chip", "tokens_per_s_per_user", "memory_gb_per_chip", "fits_memory")


#: values one axis of a sweep may hold (80 MB of float64); the grid is their product, streamed in chunks
MAX_AXIS_VALUES = 10_000_000


def parse_range(text: str, name: str, minimum: float = 0, maximum: float = np.inf) -> np.ndarray:
    """``A:B`` -> every integer A..B; ``A:B:N`` -> N evenly spaced values; ``A,B,C`` -> those values, each in
    [minimum, maximum]."""
    try:
        if ":" in text:
            parts = [float(x) for x in text.split(":")]
            if not all(np.isfinite(parts)):
                raise ValueError
            if len(parts) == 2:
                a, b = parts
                if a != int(a) or b != int(b):
                    raise ValueError
                _check_axis(name, text, int(b) - int(a) + 1)
                out = np.arange(int(a), int(b) + 1, dtype=float)
            elif len(parts) == 3 and parts[2] == int(parts[2]) and parts[2] >= 1:
                _check_axis(name, text, int(parts[2]))
                out = np.linspace(parts[0], parts[1], int(parts[2]))
            else:
                raise ValueError
        else:
            out = np.array([float(x) for x in text.split(",")])
    except InvalidInputError:
        raise
    except ValueError:
        raise InvalidInputError(name, "A:B (integers A..B), A:B:N (N values) or a comma list", text) from None
    if out.size == 0 or not np.all(np.isfinite(out)) or np.any(out < minimum) or np.any(out > maximum):
        bound = f" and <= {maximum:g}" if np.isfinite(maximum) else ""
        raise InvalidInputError(name, f"a non-empty range of numbers >= {minimum:g}{bound}", text)
    return out


def _check_axis(name: str, text: str, count: int) -> None:
    if count > MAX_AXIS_VALUES:
        shown = f"{count:,}" if count < 10**15 else f"{count:.3g}"
        raise InvalidInputError(name, f"at most {MAX_AXIS_VALUES:,} values per axis (this range has {shown})", text)


@cache
def step_function(policy: str = "step", mixed: bool = False, moe: bool = False):
    """The decode-step expression compiled once for numpy arrays (args: evaluate.ARGS)."""
    from inferonomics.optimize.solver import moe_weights, step_tokens

    weights = moe_weights(step_tokens(mixed)) if moe else None
    return lambdify_numpy(ARGS, M.t_step(policy, weights=weights, mixed=mixed))


@dataclass
class Tile:
    """One (hardware, precision, TP) slab of the grid: arrays over batch (rows) x context (columns)."""

    hardware: str
    precision: str
    tp: int
    batch: np.ndarray
    context: np.ndarray
    step_s: np.ndarray
    memory_bytes: np.ndarray
    usable_bytes: float


def tiles(space: DecisionSpace, tps: Sequence[int] | None, batch: np.ndarray, context: np.ndarray,
          workload: Workload = Workload(mixed=False), reserve: MemoryReserve = MemoryReserve(),
          dtype=np.float64) -> Iterator[Tile]:
    """Yield the grid chunk by chunk (each a block of batch rows x every context)."""
    ctx = np.asarray(context, dtype=dtype)[None, :]
    rows = max(1, CHUNK_ELEMENTS // ctx.size)
    for p in space.platforms:
        fn = step_function(workload.policy, workload.mixed, p.is_moe)
        for t in (tps or p.tps):
            v = bind_values(dict(p.values, tp=float(t), prompt_len=workload.isl, output_len=workload.osl))
            v.setdefault("active_params", v["total_params"])
            vec = [dtype(v.get(a.name, 1.0)) for a in ARGS]
            vec[_INDEX["context"]] = ctx
            w = v["total_params"] * v["bytes_per_weight"] / t
            # a KV head is never split: past t = h_kv each chip stores whole, replicated heads
            kv = v.get("kv_bytes_per_token", 0.0) / min(t, v["n_kv_heads"])
            usable = reserve.usable(v["hbm_capacity_bytes"]) if "hbm_capacity_bytes" in p.values else math.inf
            for start in range(0, batch.size, rows):
                b = np.asarray(batch[start:start + rows], dtype=dtype)[:, None]
                vec[_INDEX["batch"]] = b
                step = fn(*vec)
                yield Tile(p.hardware, p.precision.label, int(t), b, ctx, step, w + b * (ctx * kv), usable)


@dataclass
class Summary:
    configs: int
    seconds: float
    best: dict | None
    worst: dict | None

    @property
    def configs_per_s(self) -> float:
        return self.configs / self.seconds if self.seconds > 0 else math.inf


def _row(model: str, tile: Tile, i: int, j: int) -> dict:
    b, c = float(tile.batch[i, 0]), float(tile.context[0, j])
    step = float(tile.step_s[i, j])
    mem = float(tile.memory_bytes[i, j])
    return {"model": model, "hardware": tile.hardware, "precision": tile.precision, "tp": tile.tp, "batch": b,
            "context": c, "step_ms": step * 1e3, "tokens_per_s": b / step, "tokens_per_s_per_chip": b / step / tile.tp,
            "tokens_per_s_per_user": 1 / step, "memory_gb_per_chip": mem / 1e9,
            "fits_memory": bool(mem <= tile.usable_bytes)}


def sweep(space: DecisionSpace, tps: Sequence[int] | None, batch: np.ndarray, context: np.ndarray, *,
          workload: Workload = Workload(mixed=False), reserve: MemoryReserve = MemoryReserve(),
          sink=None, dtype=np.float64, progress=None) -> Summary:
    """Evaluate the grid; ``sink(tile)`` receives each chunk (e.g. a CSV writer), ``progress(done, total)`` the
    points evaluated so far. The best and worst rows are by tokens/s per chip among rows that fit in memory
    (all rows if none fits)."""
    t0 = time.perf_counter()
    n = 0
    total = sum(len(tps or p.tps) for p in space.platforms) * batch.size * np.asarray(context).size
    best: tuple[bool, float, Tile, int, int] | None = None  # (fits, value, tile, i, j)
    worst: tuple[bool, float, Tile, int, int] | None = None
    for tile in tiles(space, tps, batch, context, workload, reserve, dtype):
        per_chip = tile.batch / (tile.step_s * tile.tp)
        fits = tile.memory_bytes <= tile.usable_bytes
        n += per_chip.size
        if sink is not None:
            sink(tile)
        if progress is not None:
            progress(n, total)
        any_fit = bool(fits.any())
        masked_hi = np.where(fits, per_chip, -np.inf) if any_fit else per_chip
        masked_lo = np.where(fits, per_chip, np.inf) if any_fit else per_chip
        i_hi = tuple(map(int, np.unravel_index(int(np.argmax(masked_hi)), per_chip.shape)))
        i_lo = tuple(map(int, np.unravel_index(int(np.argmin(masked_lo)), per_chip.shape)))
        hi, lo = (any_fit, float(per_chip[i_hi])), (any_fit, float(per_chip[i_lo]))
        if best is None or (hi[0], hi[1]) > (best[0], best[1]):
            best = (*hi, tile, i_hi[0], i_hi[1])
        if worst is None or (lo[0], -lo[1]) > (worst[0], -worst[1]):
            worst = (*lo, tile, i_lo[0], i_lo[1])
    seconds = time.perf_counter() - t0
    model = space.model
    return Summary(n, seconds, _row(model, best[2], best[3], best[4]) if best else None,
                   _row(model, worst[2], worst[3], worst[4]) if worst else None)


def csv_writer(stream, model: str):
    """A sink writing each chunk's rows as CSV (numeric columns with repr-exact %.17g for times)."""
    stream.write(",".join(COLUMNS) + "\n")

    def write(tile: Tile) -> None:
        b = np.broadcast_to(tile.batch, tile.step_s.shape).ravel()
        c = np.broadcast_to(tile.context, tile.step_s.shape).ravel()
        step = tile.step_s.ravel().astype(np.float64)
        mem = tile.memory_bytes.ravel()
        fits = (mem <= tile.usable_bytes).astype(int)
        cols = np.column_stack([np.full(b.size, tile.tp), b, c, step * 1e3, b / step, b / step / tile.tp,
                                1 / step, mem / 1e9, fits])
        prefix = f"{model},{tile.hardware},{tile.precision},"
        lines = [prefix + ",".join(f"{x:.10g}" for x in row) for row in cols]
        stream.write("\n".join(lines) + "\n")

    return write
