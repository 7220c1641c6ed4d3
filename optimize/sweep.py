"""Vectorised grid evaluation: model x hardware x precision x TP x batch x context, millions of points a second.

Two models, one per sweep (the JSON's ``step_model``):

* **serving** (catalog cards, the default): the calibrated serving model with in-flight prefill, the numbers
  ``evaluate`` and ``validate`` give. Per (hardware, precision, TP) the grid is batch (rows) x context
  (columns) at a fixed prompt workload ``isl``/``osl``; the context is the decode attention's and the
  resident KV cache's. Everything in the step but decode attention depends on the (resident) batch alone,
  so :func:`serving_tiles` evaluates the serving model's named parts once over the batch axis and the
  resident caps (:func:`inferonomics.optimize.serving_step.tpot` with ``parts=True``), and only the decode
  attention (:func:`inferonomics.optimize.calibration.serving.decode_attention_layer`) over the grid.
* **ideal** (``--ideal``): the closed-form decode-step expression of symbolic.model (the one evaluate_step
  uses), compiled once with ``lambdify(..., "numpy", cse=True)`` and broadcast over batch x context.

Both run per tile in chunks of batch rows small enough to stay in cache; no Python loop runs over points.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from inferonomics.symbolic import model as M
from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.evaluate import ARGS, bind_values

from inferonomics.optimize.constraints import REL_TOL, MemoryReserve, Workload
from inferonomics.optimize.space import DecisionSpace, expert_parallel_degree
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy

_INDEX = {a.name: i for i, a in enumerate(ARGS)}
#: elements per chunk (batch rows x contexts): 32 K float64 = 256 KiB, inside L2
CHUNK_ELEMENTS = 1 << 15
COLUMNS = ("model", "hardware", "precision", "tp", "attention_dp", "ep", "pp", "batch", "resident_batch", "context",
           "step_ms", "tokens_per_s", "tokens_per_s_per_chip", "tokens_per_s_per_user", "memory_gb_per_chip",
           "fits_memory")


#: values one axis of a sweep may hold (80 MB of float64); the grid is their product, streamed in chunks
MAX_AXIS_VALUES = 10_000_000


#: how a range is written, for --help and errors
RANGE_FORMS = "A:B (every integer A..B), A:B:N (N evenly spaced points), A:B:+S (A, A+S, ... up to B) or a list A,B,C"


def parse_range(text: str, name: str, minimum: float = 0, maximum: float = np.inf) -> np.ndarray:
    """``A:B`` -> every integer A..B; ``A:B:N`` -> N evenly spaced values (N a whole number of points, never a
    step); ``A:B:+S`` -> A, A+S, ... up to B (a step, written with its sign); ``A,B,C`` -> those values, each
    in [minimum, maximum]."""
    try:
        if ":" in text and text.count(":") == 2 and text.split(":")[2].strip().startswith("+"):
            a, b, step = (float(x) for x in text.split(":"))
            if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(step)) or step <= 0 or b < a:
                raise ValueError
            _check_axis(name, text, int((b - a) / step) + 1)
            out = a + step * np.arange(int(math.floor((b - a) / step * (1 + 1e-12))) + 1, dtype=float)
        elif ":" in text:
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
        raise InvalidInputError(name, RANGE_FORMS, text) from None
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
    from inferonomics.optimize.step_compiled import moe_weights, step_tokens

    weights = moe_weights(step_tokens(mixed)) if moe else None
    return lambdify_numpy(ARGS, M.t_step(policy, weights=weights, mixed=mixed))


@dataclass
class Tile:
    """One (hardware, precision, TP) slab of the grid: arrays over batch (rows) x context (columns). Per-chip
    memory is ``weight_bytes + decoding * kv_bytes_per_seq``, built when asked for (the summary needs only
    whether it fits)."""

    hardware: str
    precision: str
    tp: int
    batch: np.ndarray
    context: np.ndarray
    step_s: np.ndarray
    weight_bytes: float
    kv_bytes_per_seq: np.ndarray
    usable_bytes: float
    #: the serving model's resident cap per context (requests past it queue); None: the whole batch decodes
    cap: np.ndarray | None = None
    #: per context, whether the weights and one sequence's KV fit (the serving model's rule); None: by memory
    fit: np.ndarray | None = None
    #: the rest of the worker's shape: ``tp x attention_dp x pp`` chips, the experts split ``ep`` ways
    attention_dp: int = 1
    ep: int = 1
    pp: int = 1

    @property
    def chips(self) -> int:
        return self.tp * self.attention_dp * self.pp

    @property
    def decoding(self) -> np.ndarray:
        """Sequences decoding at each point: the resident batch min(batch, cap)."""
        return self.batch if self.cap is None else np.minimum(self.batch, self.cap)

    @property
    def memory_bytes(self) -> np.ndarray:
        return self.weight_bytes + self.decoding * self.kv_bytes_per_seq

    @property
    def fits(self) -> np.ndarray:
        if self.fit is not None:
            return np.broadcast_to(self.fit, self.step_s.shape)
        return self.memory_bytes <= self.usable_bytes * (1 + REL_TOL)


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
                yield Tile(p.hardware, p.precision.label, int(t), b, ctx, step, w, ctx * kv, usable,
                           ep=expert_parallel_degree(int(t), p.n_experts))


def serving_tiles(space: DecisionSpace, tps: Sequence[int] | None, batch: np.ndarray, context: np.ndarray,
                  isl: float, osl: float, shape: tuple[int, int, int | None] = (1, 1, None)) -> Iterator[Tile]:
    """The serving model's grid, chunk by chunk: mean in-flight step (TPOT) at each (batch, context), at the
    resident batch (:func:`inferonomics.optimize.serving_step.resident_cap` of each context; requests past
    it queue), by the serving model's own functions:

    * the parts of the step but decode attention depend on the resident batch alone: one
      :func:`~inferonomics.optimize.serving_step.tpot` (``parts=True``) over the batches and the caps, at the
      context whose cap is largest (so that none of those batches is capped again);
    * decode attention (:func:`~inferonomics.optimize.calibration.serving.decode_attention_layer`, the only
      part with the context in it) over the grid, at the resident batch. In the mean in-flight step it enters
      with weight 1 (decode and mixed steps attend alike).

    Memory per chip: the weights and the resident batch's KV (:func:`.serving_eval.memory_per_chip`'s rule),
    against ``kv_memory_fraction`` of HBM. ``shape = (attention_dp, pp, ep)`` (ep None: as optimize reports it)
    makes each TP a worker of ``tp x attention_dp x pp`` chips: the step's stack runs at the micro-batch
    ``max(B_res/pp, 1)`` (:mod:`.calibration.pipeline`), decode attention over each group's ``max(micro/dp, 1)``
    sequences, as :func:`.serving_step.tpot` composes them."""
    from inferonomics.optimize.calibration import serving as SV
    from inferonomics.optimize.calibration.pipeline import stage_env, stage_micro_batch
    from inferonomics.optimize.serving_step import resident_cap, tpot

    ctx = np.asarray(context, dtype=float)
    batch = np.asarray(batch, dtype=float)
    rows = max(1, CHUNK_ELEMENTS // ctx.size)
    for p in space.platforms:
        spec = p.serving
        if spec is None:  # _serving_only drops these platforms before the sweep
            raise InvalidInputError("platform", "a card and precision the serving model covers", p.hardware)
        a: Any = spec.arch
        env = spec.env
        dp, pp, ep_given = shape
        env_pp = stage_env(env, pp)

        def seqs(b):  # one attention group's sequences at a resident batch b: step_ops' max(micro/dp, 1)
            micro = stage_micro_batch(b, pp) if pp > 1 else b
            return np.maximum(micro / dp, 1.0) if dp > 1 else micro

        for t in (tps or p.tps):
            ep = ep_given or expert_parallel_degree(t * dp, p.n_experts)
            chips = t * dp * pp
            cap = np.broadcast_to(resident_cap(spec, t, isl, osl, dp=dp, pp=pp, context=ctx), ctx.shape)
            cap = np.where(np.isfinite(cap), cap, batch.max())  # a card of unknown capacity: nothing queues
            weights, kv_seq = SV.resident_memory(a, isl, osl, float(t), float(dp), spec.precision, env, ctx)
            ref = int(np.argmax(cap))
            # a batch past the largest cap decodes some column's cap, never itself: not evaluated (0 is a filler)
            below = batch <= cap[ref]
            n = int(below.sum())
            parts = tpot(spec, t, np.concatenate([batch[below], cap]), isl, osl, ep=ep, dp=dp, pp=pp,
                         context=ctx[ref], parts=True)
            rest = sum(v for k, v in parts.items() if k != "decode_attention")
            rest_b, rest_cap = np.zeros(batch.size), rest[n:]
            rest_b[below] = rest[:n]
            usable = env["kv_memory_fraction"] * env.get("hbm_capacity_bytes", math.inf)
            c2 = ctx[None, :]
            # at a batch past a context's cap every row decodes the cap: one value per column
            att_cap = SV.decode_attention_layer(a, seqs(cap), ctx, float(t), spec.precision, env_pp)
            at_cap = (rest_cap + a.n_layers * att_cap)[None, :]
            kv_chip = (np.broadcast_to(kv_seq, ctx.shape) / chips)[None, :]
            fit = (weights + np.broadcast_to(kv_seq, ctx.shape) <= usable * chips * (1 + REL_TOL))[None, :]
            cap_min = float(cap.min())
            for start in range(0, batch.size, rows):
                b = batch[start:start + rows, None]
                if not below[start:start + rows].any():  # every row past every cap: the caps' steps
                    step = np.broadcast_to(at_cap, (b.size, ctx.size))
                else:
                    # the batch's own rows over the whole chunk: the b-only subexpressions of the attention
                    # kernel stay a column, only the context terms are 2-D
                    step = np.asarray(SV.decode_attention_layer(a, seqs(b), c2, float(t), spec.precision, env_pp))
                    step *= a.n_layers
                    step += rest_b[start:start + rows, None]
                    if b.max() > cap_min:  # some rows past some column's cap decode that cap
                        step = np.where(b <= cap, step, at_cap)
                yield Tile(p.hardware, spec.precision, int(t), b, c2, step, weights / chips, kv_chip, usable,
                           cap[None, :], fit, dp, ep, pp)


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
    r = float(np.broadcast_to(tile.decoding, tile.step_s.shape)[i, j])
    step = float(tile.step_s[i, j])
    mem = float(tile.memory_bytes[i, j])
    return {"model": model, "hardware": tile.hardware, "precision": tile.precision, "tp": tile.tp,
            "attention_dp": tile.attention_dp, "ep": tile.ep, "pp": tile.pp, "chips_per_replica": tile.chips,
            "batch": b, "resident_batch": r, "context": c, "step_ms": step * 1e3, "tokens_per_s": r / step,
            "tokens_per_s_per_chip": r / step / tile.chips, "tokens_per_s_per_user": 1 / step,
            "memory_gb_per_chip": mem / 1e9, "fits_memory": bool(tile.fits[i, j])}


def sweep(space: DecisionSpace, tps: Sequence[int] | None, batch: np.ndarray, context: np.ndarray, *,
          workload: Workload = Workload(mixed=False), reserve: MemoryReserve = MemoryReserve(),
          sink=None, dtype=np.float64, progress=None, serving: bool = False,
          shape: tuple[int, int, int | None] = (1, 1, None)) -> Summary:
    """Evaluate the grid (``serving``: the serving model at ``workload``'s isl/osl, :func:`serving_tiles`;
    else the closed form, :func:`tiles`); ``sink(tile)`` receives each chunk (e.g. a CSV writer),
    ``progress(done, total)`` the points evaluated so far. The best and worst rows are by tokens/s per chip
    among rows that fit in memory (all rows if none fits)."""
    t0 = time.perf_counter()
    n = 0
    total = sum(len(tps or p.tps) for p in space.platforms) * batch.size * np.asarray(context).size
    best: tuple[bool, float, Any, int, int] | None = None  # (fits, value, tile, i, j)
    worst: tuple[bool, float, Any, int, int] | None = None
    grid = (serving_tiles(space, tps, batch, context, workload.isl, workload.osl, shape) if serving
            else tiles(space, tps, batch, context, workload, reserve, dtype))
    for tile in grid:
        per_replica = tile.decoding / tile.step_s  # tokens/s; per chip divides the whole tile by its chips
        fits = tile.fits
        n += per_replica.size
        if sink is not None:
            sink(tile)
        if progress is not None:
            progress(n, total)
        any_fit = bool(fits.any())
        some = any_fit and not (tile.fit is not None and bool(np.all(tile.fit)))  # mask only if some miss
        masked_hi = np.where(fits, per_replica, -np.inf) if some else per_replica
        masked_lo = np.where(fits, per_replica, np.inf) if some else per_replica
        i_hi = tuple(map(int, np.unravel_index(int(np.argmax(masked_hi)), per_replica.shape)))
        i_lo = tuple(map(int, np.unravel_index(int(np.argmin(masked_lo)), per_replica.shape)))
        hi, lo = (any_fit, float(per_replica[i_hi]) / tile.chips), (any_fit, float(per_replica[i_lo]) / tile.chips)
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
        r = np.broadcast_to(tile.decoding, tile.step_s.shape).ravel()
        c = np.broadcast_to(tile.context, tile.step_s.shape).ravel()
        step = tile.step_s.ravel().astype(np.float64)
        mem = tile.memory_bytes.ravel()
        fits = tile.fits.ravel().astype(int)
        shape = [np.full(b.size, x) for x in (tile.tp, tile.attention_dp, tile.ep, tile.pp)]
        cols = np.column_stack([*shape, b, r, c, step * 1e3, r / step, r / step / tile.chips, 1 / step, mem / 1e9,
                                fits])
        prefix = f"{model},{tile.hardware},{tile.precision},"
        lines = [prefix + ",".join(f"{x:.10g}" for x in row) for row in cols]
        stream.write("\n".join(lines) + "\n")

    return write
