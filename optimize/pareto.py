"""The frontier of speed per user (tokens/s/user) against cost ($ per million tokens; without prices, chip-hours
per million tokens) over every feasible option and batch: no point on it is both slower and dearer than another
deployment."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict, dataclass

import numpy as np

from inferonomics.optimize.batch_limits import evaluate_options
from inferonomics.optimize.explain import Miss
from inferonomics.optimize.problem import Problem, check_prices
from inferonomics.optimize.space import Option, shape_words
from inferonomics.optimize.step_compiled import BATCH, INDEX, closed_form_step

FIELDS = ("hardware", "precision", "tp", "pp", "attention_dp", "ep", "batch", "step_ms", "tokens_per_s_per_user",
          "cost_usd_per_million_tokens", "chip_hours_per_million_tokens", "tokens_per_s", "utilization")


@dataclass(frozen=True)
class FrontierPoint:
    hardware: str
    precision: str
    tp: int
    pp: int
    attention_dp: int
    ep: int
    batch: int
    step_ms: float
    tokens_per_s_per_user: float
    cost_usd_per_million_tokens: float | None
    chip_hours_per_million_tokens: float
    tokens_per_s: float
    utilization: float

    @property
    def shape(self) -> str:
        return shape_words(self.tp, self.pp, self.attention_dp, self.ep)


@dataclass(frozen=True)
class Frontier:
    points: tuple[FrontierPoint, ...]
    candidates: int
    seconds: float
    reason: str = ""
    #: costs in $ (a price for every hardware) or in chip-hours (no prices)
    priced: bool = True


def frontier(problem: Problem) -> Frontier:
    """Every option's batches 1..B_max (B_max from TPOT, memory and the batch cap; for the calibrated serving
    model every feasible batch), then the non-dominated set."""
    t0 = time.perf_counter()
    priced = check_prices(problem, required=False)
    cols: dict[str, list] = {k: [] for k in ("speed", "cost", "chip_h", "tps", "util", "step", "batch", "opt")}
    opts: list[Option] = []
    misses: list[Miss] = []
    for ev in evaluate_options(problem):
        if ev.batch_max < 1:
            if ev.miss is not None:  # set with batch_max < 1 by both strategies
                misses.append(ev.miss)
            continue
        o = ev.option
        c = closed_form_step(problem.workload.policy, problem.workload.mixed, o.platform.is_moe)
        # calibrated serving model: only the feasible batches (TPOT need not be monotone), its TPOT
        sv = ev.curves
        b = sv.feasible.astype(float) if sv is not None else np.arange(1, ev.batch_max + 1, dtype=float)
        vec = list(ev.vec)
        vec[BATCH] = b
        parts = c.parts_np(*vec)
        step, flops = np.broadcast_to(parts.step, b.shape), np.broadcast_to(parts.flops, b.shape)
        if sv is not None:
            step = sv.tpot[sv.feasible - 1]
        chip_h = o.chips * step / (3600 * b) * 1e6
        cols["speed"].append(1 / step)
        cols["chip_h"].append(chip_h)
        cols["cost"].append(chip_h * o.platform.price_usd_per_chip_hour if priced else chip_h)
        cols["tps"].append(b / step)
        cols["util"].append(flops / (o.chips * vec[INDEX["peak_flop_per_s"]] * step))
        cols["step"].append(step)
        cols["batch"].append(b)
        cols["opt"].append(np.full(b.size, len(opts)))
        opts.append(o)
    if not opts:
        why = min(misses, key=lambda m: m[0])[1] if misses else "no option"
        return Frontier((), 0, time.perf_counter() - t0, why, priced)
    a = {k: np.concatenate(v) for k, v in cols.items()}
    keep = pareto_mask(a["cost"], a["speed"])
    idx = np.flatnonzero(keep)
    idx = idx[np.argsort(a["cost"][idx], kind="stable")]
    def point(i: int) -> FrontierPoint:
        o = opts[a["opt"][i]]
        return FrontierPoint(o.platform.hardware, o.platform.precision.label, o.tp, o.pp, o.attention_dp, o.ep,
                             int(a["batch"][i]), float(a["step"][i] * 1e3), float(a["speed"][i]),
                             float(a["cost"][i]) if priced else None, float(a["chip_h"][i]), float(a["tps"][i]),
                             float(a["util"][i]))
    pts = tuple(point(int(i)) for i in idx)
    return Frontier(pts, int(a["cost"].size), time.perf_counter() - t0, priced=priced)


def pareto_mask(cost: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """True where no other point is at most as dear and at least as fast (and better in one). Vectorised:
    sort by cost (then speed, descending) and keep points faster than every cheaper point."""
    order = np.lexsort((-speed, cost))
    s = speed[order]
    prev_best = np.maximum.accumulate(np.concatenate(([-np.inf], s[:-1])))
    keep_sorted = s > prev_best
    keep = np.zeros(cost.size, dtype=bool)
    keep[order] = keep_sorted
    return keep


def to_csv(front: Frontier) -> str:
    """The frontier as CSV through the csv module: a precision label such as ``w=fp8,kv=bf16,a=fp8`` holds
    commas and is quoted, so every row has as many fields as the header."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for p in front.points:
        d = asdict(p)
        w.writerow(["" if d[k] is None else str(d[k]) if isinstance(d[k], (str, int)) else f"{d[k]:.10g}"
                    for k in FIELDS])
    return buf.getvalue()


def plot_png(front: Frontier, title: str, fmt: str = "png") -> bytes:
    """A PNG (or, with ``fmt="svg"``, an SVG) of the frontier: $/Mtok on a log axis against tokens/s per user,
    one colour per hardware."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for hw in dict.fromkeys(p.hardware for p in front.points):
        pts = [p for p in front.points if p.hardware == hw]
        # the $ cost is None exactly on an unpriced frontier, which plots chip-hours instead
        ax.plot([p.tokens_per_s_per_user for p in pts],
                [p.chip_hours_per_million_tokens if p.cost_usd_per_million_tokens is None
                 else p.cost_usd_per_million_tokens for p in pts],
                "o-", ms=3, label=hw)
    ax.set_yscale("log")
    ax.set_xlabel("speed per user (output tokens/s per user)")
    ax.set_ylabel("cost ($ per million output tokens)" if front.priced else "chip-hours per million output tokens")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    plt.close(fig)
    return buf.getvalue()
