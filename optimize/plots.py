"""Pictures of the model: roofline, utilization, cost, context and users, each with its regime boundary.

Every plot function takes symbol values (SI, keyed by symbol name) and the model it draws, writes PNG or SVG,
and returns the numbers it marked so that tests can compare them with the closed forms and ``evaluate``.
The model is either the ideal one (the essay's limit: datasheet rates, efficiencies 1, no fixed costs; the
closed forms) or a :class:`ServingCurve`: the calibrated serving model's step at one deployment as a function
of the batch (what ``evaluate`` reports), with the break-even batch and critical context from the general closed
forms at the calibration's efficiencies. The title says which. Output is deterministic: no timestamps or
software tags in the file, a fixed SVG hash salt.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferonomics.symbolic.errors import InvalidInputError, UnknownNameError
from inferonomics.symbolic.evaluate import bind_values
from inferonomics.symbolic.formulas import get_formula
from inferonomics.symbolic.numpy_lambdify import lambdify_numpy

if TYPE_CHECKING:  # matplotlib loads only when a plot is drawn
    from matplotlib.typing import RcKeyType

KINDS = ("roofline", "utilization", "cost", "context", "users")
#: the second title line of an ideal plot
IDEAL_LABEL = "ideal model (the essay's limit: datasheet rates, efficiencies 1, no fixed costs)"


@dataclass(frozen=True)
class ServingCurve:
    """The serving model at one deployment as a function of the batch, and the calibration behind it.

    ``step_s`` maps an array of batches to seconds per step (``evaluate``'s ``step_ms``/1000 there);
    ``max_batch`` is the resident batch the replica's KV memory holds (the curve stops there);
    ``efficiencies`` are the closed forms' five calibrated values
    (:func:`inferonomics.optimize.calibrated_forms.calibrated_values`) for the break-even batch and critical
    context; ``label`` names the model and calibration for the title.
    """

    step_s: Callable[[np.ndarray], np.ndarray]
    max_batch: float
    efficiencies: Mapping[str, float]
    label: str


def _form(name: str, v: Mapping[str, float], model: ServingCurve | None) -> float:
    """A closed form at ``v``: its ideal form, or its general form at the calibration's efficiencies."""
    if model is None:
        return get_formula(name).evaluate(v)
    return get_formula(name, efficiencies=True).evaluate(dict(v, **model.efficiencies))


#: deterministic output (fixed SVG hash salt, fixed dpi) and a fixed title height: placing the title
#: automatically measures every tick label again on each draw
_RC: dict[RcKeyType, Any] = {"svg.hashsalt": "inferonomics", "figure.dpi": 100, "savefig.dpi": 100, "axes.titley": 1.0}


def _figure(figsize: tuple[float, float]):
    """A figure on the Agg canvas, without pyplot: no global figure registry, and one import fewer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> bytes:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg"):
        raise InvalidInputError("-o", "a file name ending in .png or .svg", str(path))
    buf = io.BytesIO()
    meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    fig.savefig(buf, format=fmt, metadata=meta)
    return buf.getvalue()


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _power_of_ten(x: float, _pos=None) -> str:
    """A log-axis label such as 10\u00b3 in plain Unicode (mathtext's parser costs more than the drawing)."""
    return f"10{str(round(np.log10(x))).translate(_SUPERSCRIPT)}"


def _log_ticks(ax) -> None:
    """Decades labelled, minor ticks at 2 and 5 only: every minor tick is an object drawn and measured."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_locator(LogLocator(base=10))
            axis.set_major_formatter(FuncFormatter(_power_of_ten))
            axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))
            axis.set_minor_formatter(NullFormatter())


def _weights_only(v: Mapping[str, float]) -> dict[str, float]:
    """The closed forms' setting: weights only, ideal rates, no communication or fixed costs."""
    return dict(v, context=0.0, kv_bytes_per_token=0.0, link_latency_s=0.0, overhead_s=0.0,
                link_bandwidth_bytes_per_s=float("inf"),
                layer_overhead_s=0.0, eta_flop=1.0, eta_bw=1.0, eta_kv=1.0)


def roofline(ax, v: Mapping[str, float], model: ServingCurve | None = None) -> dict:
    eff = model.efficiencies if model is not None else {}
    # a calibrated roofline: the attained rates eta_F F and eta_W W (the closed forms' efficiencies)
    F = v["peak_flop_per_s"] * eff.get("eta_flop", 1.0)
    W = v["hbm_bandwidth_bytes_per_s"] * eff.get("eta_bw", 1.0)
    bw = v["bytes_per_weight"]
    ridge = F / W
    x = np.logspace(np.log10(ridge) - 3, np.log10(ridge) + 2, 400)
    ax.loglog(x, np.minimum(F, W * x), color="k",
              label="roofline min(F, W x)" if model is None else "calibrated roofline min(eta_F F, eta_W W x)")
    ax.axvline(ridge, color="grey", ls="--", label=f"ridge F/W = {ridge:.0f} FLOP/byte")
    for b in (1, 8, 64, 512, 4096):
        ai = 2 * b / bw  # decode: 2 FLOPs per weight per token, b_w bytes per weight read once
        ax.plot([ai], [min(F, W * ai)], "o", label=f"decode B={b}: {ai:.0f} FLOP/byte")
    ax.set(xlabel="arithmetic intensity (FLOP/byte)", ylabel="attainable FLOP/s",
           title="Roofline: decode's intensity grows with the batch")
    return {"ridge_flop_per_byte": ridge}


def _batch_curve(v: Mapping[str, float], model: ServingCurve | None = None):
    """B*, batches from 1 to 30 B*, and the utilization and step time there.

    Ideal: both from the closed form ``utilization`` (the same model as the break-even batch), vectorised,
    weights only. Serving: the serving model's step at each batch up to the resident batch, and the
    utilization ``evaluate`` reports for that step (:func:`inferonomics.symbolic.evaluate.economics`).
    """
    bstar = _form("break_even_batch", v, model)
    top = np.log10(bstar) + 1.5
    if model is not None:
        top = min(top, np.log10(max(model.max_batch, 1.0)))
    b = np.unique(np.floor(np.logspace(0, top, 300)))  # floor: the last batch stays within the resident batch
    if model is not None:
        from inferonomics.symbolic.evaluate import economics

        steps = np.asarray(model.step_s(b), dtype=float) * np.ones_like(b)
        util = np.array([economics(dict(v, batch=bi), st)["utilization"] for bi, st in zip(b, steps)])
        return bstar, b, util, steps
    f = get_formula("utilization")
    w = _weights_only(v)
    util = lambdify_numpy(f.args, f.expr)(*[b if a.name == "batch" else w[a.name] for a in f.args]) * np.ones_like(b)
    compute = 2 * v["active_params"] * b / (v.get("tp", 1.0) * v["peak_flop_per_s"])
    return bstar, b, util, compute / util


def _curve(b, steps) -> dict:
    """The plotted points, as ``evaluate --json`` reports them (step_ms, tokens_per_s), for tests and --json."""
    return {"curve": {"batch": b.tolist(), "step_ms": (steps * 1e3).tolist(), "tokens_per_s": (b / steps).tolist()}}


def utilization(ax, v: Mapping[str, float], model: ServingCurve | None = None) -> dict:
    bstar, b, util, steps = _batch_curve(v, model)
    ax.semilogx(b, util * 100, color="C0", label="ideal model" if model is None else "serving model")
    ax.axvline(bstar, color="C3", ls="--", label=f"break-even batch B* = {bstar:.0f}")
    ax.set(xlabel="batch B (sequences per step)", ylabel="utilization (% of peak FLOP/s)",
           title="Utilization against batch: linear until B*, then flat" if model is None else
           "Utilization against batch, up to the batch whose KV cache fits")
    return {"break_even_batch": bstar, **_curve(b, steps)}


def cost(ax, v: Mapping[str, float], model: ServingCurve | None = None) -> dict:
    bstar, b, _, steps = _batch_curve(v, model)
    chip_hours = v.get("tp", 1.0) * steps / 3600 / b * 1e6
    price = v.get("price_usd_per_chip_hour")
    y, label = (chip_hours * price, "cost (USD per million tokens)") if price else (
        chip_hours, "chip-hours per million tokens (times your price = USD)")
    ax.loglog(b, y, color="C2")
    ax.axvline(bstar, color="C3", ls="--", label=f"break-even batch B* = {bstar:.0f}")
    ax.set(xlabel="batch B (sequences per step)", ylabel=label,
           title="Cost per token falls as 1/B until B*, then stays flat" if model is None else
           "Cost per token against batch, up to the batch whose KV cache fits")
    return {"break_even_batch": bstar, **_curve(b, steps)}


def context(ax, v: Mapping[str, float], model: ServingCurve | None = None) -> dict:
    if not v.get("kv_bytes_per_token"):
        raise InvalidInputError("kv_bytes_per_token", "a number > 0 for the context plot")
    crit = _form("critical_context", v, model)
    f = get_formula("break_even_batch_with_kv", efficiencies=model is not None)
    w = dict(v, **(model.efficiencies if model is not None else {}))  # v is bound: the ideal values by default
    c = np.linspace(0, crit * 0.98, 300)[1:]
    curve = lambdify_numpy(f.args, f.expr)(*[c if a.name == "context" else w[a.name] for a in f.args])
    ax.semilogy(c, curve, color="C4")
    ax.axvline(crit, color="C3", ls="--", label=f"critical context c* = {crit:,.0f} tokens")
    ax.set(xlabel="context c (tokens)", ylabel="break-even batch B*_kv",
           title="KV reads raise the break-even batch, which diverges at c*")
    return {"critical_context": crit}


def users(ax, v: Mapping[str, float], model: ServingCurve | None = None) -> dict:
    bstar = _form("break_even_batch", v, model)
    base = get_formula("min_user_base")
    u_star = base.evaluate(dict(v, concurrency=bstar))
    n_users = np.logspace(1, np.log10(u_star) + 1.5, 300)
    # concurrency at the daily trough: the mean, n m/1440, over the mean-to-trough ratio (as min_user_base)
    conc = np.maximum(1.0, n_users * v["minutes_per_day"] / (1440 * v["mean_to_trough"]))
    if model is not None:  # the serving model's utilization at that batch, up to the resident batch
        from inferonomics.symbolic.evaluate import economics

        conc = np.minimum(conc, max(model.max_batch, 1.0))
        steps = np.asarray(model.step_s(conc), dtype=float) * np.ones_like(conc)
        util = np.array([economics(dict(v, batch=c), st)["utilization"] for c, st in zip(conc, steps)])
    else:
        f = get_formula("utilization")
        w = _weights_only(v)
        util = lambdify_numpy(f.args, f.expr)(*[conc if a.name == "batch" else w[a.name] for a in f.args])
    ax.semilogx(n_users, util * 100, color="C1")
    ax.axvline(u_star, color="C3", ls="--", label=f"user base at B*: {u_star:,.0f}")
    ax.set(xlabel="registered users (one replica)", ylabel="utilization at the daily trough (% of peak FLOP/s)",
           title="Economies of scale: utilization against the user base")
    return {"user_base_at_break_even": u_star}


#: where each plot's legend goes (away from its curve)
LEGEND_CORNER = {"roofline": "lower right", "utilization": "upper left", "cost": "upper right",
                 "context": "upper left", "users": "upper left"}

PLOTTERS: dict[str, Callable] = {"roofline": roofline, "utilization": utilization, "cost": cost,
                                 "context": context, "users": users}


def render(kind: str, values: Mapping[str, float], fmt: str = "png",
           model: ServingCurve | None = None) -> tuple[bytes, dict]:
    """Draw one plot of the ideal model, or of the serving ``model``; returns the file's bytes and the numbers
    it marked (``step_model`` says which)."""
    if kind not in PLOTTERS:
        raise UnknownNameError("plot kind", kind, KINDS)
    v = bind_values(values)
    v.setdefault("minutes_per_day", 10.0)
    v.setdefault("mean_to_trough", 1.0)
    import matplotlib

    with matplotlib.rc_context(_RC):  # the caller's matplotlib settings are left as they were
        fig = _figure((7, 4.5))
        ax = fig.subplots()
        # fixed margins: a layout engine re-draws the ticks several times, which costs more than the plot
        label = IDEAL_LABEL if model is None else model.label
        if model is not None and kind in ("roofline", "context"):  # drawn from the calibrated closed forms
            label = "closed forms at the calibrated efficiencies of the " + label
        which = textwrap.wrap(label, 95)
        fig.subplots_adjust(left=0.12, right=0.97, bottom=0.12, top=0.92 - 0.035 * len(which))
        marks = PLOTTERS[kind](ax, v, model)
        # the title's last lines say which model: the essay's ideal limit or the calibrated serving model
        ax.set_title("\n".join([ax.get_title(), *which]), fontsize=9)
        marks = {"step_model": "ideal" if model is None else "serving", **marks}
        _log_ticks(ax)
        ax.grid(True, which="major", alpha=0.3)
        # an explicit corner: loc="best" scans every plotted point, which costs more than the drawing
        ax.legend(fontsize=8, loc=LEGEND_CORNER.get(kind, "upper left"))
        return _save(fig, Path(f"plot.{fmt}")), marks
