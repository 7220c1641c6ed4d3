"""The memory wall across the catalog: peak FLOP/s and memory bandwidth against release year, each fitted
log-linearly (least squares on log10), and the balance F/W, break-even batch and minimum user base
extrapolated forward with the fit's 95 % interval (issue 16, `inferonomics balance --trend`)."""

from __future__ import annotations

import math

import numpy as np

from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import InvalidInputError
from inferonomics.symbolic.formulas import get_formula

from .balance import ESSAY_MINUTES_PER_DAY, ESSAY_MEAN_TO_TROUGH

#: memory kinds in the fit: off-chip DRAM. SRAM machines (Groq, Cerebras) hold weights on the die, are
#: bound by capacity and chip count, not bandwidth, and their ridge points are not comparable
FIT_KINDS = ("hbm", "unified")
EXTRAPOLATE_YEARS = (2026, 2028, 2030)
#: the essay's hypothetical H100 (8-bit): ~3e15 FLOP/s over ~3e12 B/s
ESSAY_H100 = {"year": 2022, "flop_per_byte": 1000.0, "label": "the essay's H100 (8-bit: 3e15 FLOP/s, 3 TB/s)"}


def _compute_key(precision: catalog.Precision) -> str:
    # weight-only formats (int4) compute at the activation precision, bf16 by default (as catalog.bind)
    return precision.compute_key or "bf16"


def catalog_cards(precision: str = "bf16") -> list[dict]:
    """Every catalog card with its sourced release year and its balance at ``precision``'s compute rate."""
    prec = catalog.precision(precision)
    key, bw = _compute_key(prec), float(prec.bytes_per_element)
    rows = []
    for name in catalog.list_hardware():
        hw = catalog.hardware(name)
        F, W = hw.peak_flop_per_s.get(key), hw.hbm_bandwidth_bytes_per_s
        why = None
        if F is None:
            why = f"no published {key} rate"
        elif hw.memory_kind not in FIT_KINDS:
            why = f"{hw.memory_kind} memory: capacity-bound, its ridge is not comparable"
        src = hw.sources.get("year")
        rows.append({
            "name": name, "display_name": hw.display_name, "vendor": hw.vendor, "year": hw.year,
            "year_source": None if src is None else src.source, "memory_kind": hw.memory_kind,
            "peak_flop_per_s": F, "hbm_bandwidth_bytes_per_s": W,
            "flop_per_byte": None if F is None else F / W,
            "break_even_batch": None if F is None else F * bw / (2 * W),
            "in_fit": why is None, "excluded_because": why,
        })
    return sorted(rows, key=lambda r: (r["year"], r["name"]))


def loglinear_fit(years, values) -> dict:
    """Least squares of log10(value) on year: slope with its standard error, and what an interval needs."""
    x, y = np.asarray(years, float), np.log10(np.asarray(values, float))
    n = len(x)
    if n < 3 or np.ptp(x) == 0:  # a slope and its error need three cards over at least two years
        raise InvalidInputError("--precision", "a precision that at least 3 off-chip-memory cards of two or more "
                                               "release years publish a rate for", f"{n} card(s)")
    (slope, intercept), cov = np.polyfit(x, y, 1, cov="unscaled")  # cov = (X^T X)^-1
    resid = y - (slope * x + intercept)
    s2 = float(resid @ resid) / (n - 2)
    return {"n": n, "slope": float(slope), "intercept": float(intercept), "slope_se": math.sqrt(cov[0, 0] * s2),
            "s2": s2, "xbar": float(x.mean()), "sxx": float(((x - x.mean()) ** 2).sum())}


def _t95(dof: int) -> float:
    """Student's t 97.5% quantile at ``dof`` degrees of freedom: where the upper tail,
    I_{dof/(dof+t^2)}(dof/2, 1/2)/2 (the regularized incomplete beta), is 2.5%.

    mpmath (SymPy's own dependency, already loaded) rather than scipy.special.stdtrit: importing scipy.special
    cost derive 0.25-0.4 s of its ~3; the two agree to 3.5e-15 relative for dof 1-300 (tests/test_balance_cli.py)."""
    import mpmath

    with mpmath.workdps(30):
        def tail(t):
            upper = mpmath.betainc(mpmath.mpf(dof) / 2, 0.5, 0, dof / (dof + t * t), regularized=True) / 2
            return upper - mpmath.mpf("0.025")

        # bracket: the quantile falls from 12.71 (dof 1) towards the normal's 1.96
        return float(mpmath.findroot(tail, (1.9, 13.0), solver="illinois"))


def _growth(fit: dict, t: float) -> dict:
    b, se = fit["slope"], fit["slope_se"]
    return {"growth_per_year": 10 ** b, "growth_per_year_95": [10 ** (b - t * se), 10 ** (b + t * se)],
            "log10_slope_per_year": b, "log10_slope_se": se,
            "doubling_years": math.log10(2) / b if b > 0 else None}


def _at(fit: dict, year: float, t: float) -> tuple[float, float, float]:
    """The fitted line at ``year`` and the 95 % interval of the line (not of one card) there."""
    mid = fit["intercept"] + fit["slope"] * year
    half = t * math.sqrt(fit["s2"] * (1 / fit["n"] + (year - fit["xbar"]) ** 2 / fit["sxx"]))
    return 10 ** mid, 10 ** (mid - half), 10 ** (mid + half)


def trend(precision: str = "bf16", minutes_per_day: float = ESSAY_MINUTES_PER_DAY,
          years: tuple[int, ...] = EXTRAPOLATE_YEARS) -> dict:
    """Cards, the three fits (FLOP/s, bandwidth, their ratio), and the balance extrapolated to ``years``."""
    prec = catalog.precision(precision)
    bw = float(prec.bytes_per_element)
    cards = catalog_cards(precision)
    fit_rows = [c for c in cards if c["in_fit"]]
    yrs = [c["year"] for c in fit_rows]
    fits = {"flop_per_s": loglinear_fit(yrs, [c["peak_flop_per_s"] for c in fit_rows]),
            "bandwidth": loglinear_fit(yrs, [c["hbm_bandwidth_bytes_per_s"] for c in fit_rows]),
            # the ratio fitted directly, so its slope's error is the right one (same cards: its slope is
            # exactly the difference of the other two)
            "flop_per_byte": loglinear_fit(yrs, [c["flop_per_byte"] for c in fit_rows])}
    t = _t95(len(fit_rows) - 2)
    users = get_formula("min_user_base_vs_balance")
    ahead = []
    for y in years:
        r, lo, hi = _at(fits["flop_per_byte"], y, t)
        u = [users.evaluate({"flop_per_byte": x, "bytes_per_weight": bw, "minutes_per_day": minutes_per_day,
                             "mean_to_trough": ESSAY_MEAN_TO_TROUGH}) for x in (r, lo, hi)]
        ahead.append({"year": y, "flop_per_byte": r, "flop_per_byte_95": [lo, hi],
                      "break_even_batch": r * bw / 2, "break_even_batch_95": [lo * bw / 2, hi * bw / 2],
                      "min_user_base": u[0], "min_user_base_95": [u[1], u[2]]})
    return {
        "precision": prec.name, "compute_key": _compute_key(prec), "bytes_per_weight": bw,
        "minutes_per_day": minutes_per_day, "mean_to_trough": ESSAY_MEAN_TO_TROUGH,
        "cards": cards,
        "n_cards": len(cards), "n_cards_with_sourced_year": sum(c["year_source"] is not None for c in cards),
        "fit": {"n_cards": len(fit_rows), "years": [min(yrs), max(yrs)], "t_95": t,
                **{k: _growth(f, t) for k, f in fits.items()}},
        "extrapolation": ahead,
        "essay_h100": ESSAY_H100,
        "assumptions": [
            "log-linear least squares of peak dense FLOP/s and memory bandwidth on release year, over the "
            "catalog's off-chip-memory cards at this precision (SRAM machines and cards without the rate are listed, "
            "not fitted)",
            "the catalog mixes vendors and market segments (data-centre, consumer, laptop): the fit describes the "
            "catalog, not one product line",
            "intervals: 95 % for the fitted line (Student t on n - 2 degrees of freedom), not for one future card",
            "break-even batch F b_w/(2W) and user base at B* are weights-only closed forms, as the essay's",
        ],
        "_fits": fits,  # for the plot; removed from JSON by the command
    }


def render(precision: str = "bf16", fmt: str = "png") -> tuple[bytes, dict]:
    """Cards by release year (log scale) with the fitted trends, the 95 % band of the balance, and the
    essay's H100 marked; returns the file's bytes and the numbers it marked."""
    import matplotlib

    from .plots import _RC, _figure, _log_ticks, _save

    t = trend(precision)
    fits, fit_rows = t["_fits"], [c for c in t["cards"] if c["in_fit"]]
    yrs = np.array([c["year"] for c in fit_rows], float)
    grid = np.linspace(yrs.min(), max(EXTRAPOLATE_YEARS), 60)
    with matplotlib.rc_context(_RC):
        fig = _figure((11, 4.5))
        left, right = fig.subplots(1, 2)
        fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.9, wspace=0.22)
        for key, field, color, label in (("flop_per_s", "peak_flop_per_s", "C0", "peak FLOP/s"),
                                         ("bandwidth", "hbm_bandwidth_bytes_per_s", "C1", "bandwidth (B/s) x 100")):
            scale = 100.0 if key == "bandwidth" else 1.0  # bring both onto one decade range
            left.scatter(yrs, [c[field] * scale for c in fit_rows], color=color, s=14)
            g = t["fit"][key]
            left.plot(grid, scale * 10 ** (fits[key]["intercept"] + fits[key]["slope"] * grid), color=color,
                      label=f"{label}: x{g['growth_per_year']:.2f}/year")
        left.set_yscale("log")
        left.set(xlabel="release year", title=f"Arithmetic outgrows bandwidth ({t['compute_key']})")
        band = np.array([_at(fits["flop_per_byte"], y, t["fit"]["t_95"]) for y in grid])
        right.scatter(yrs, [c["flop_per_byte"] for c in fit_rows], color="k", s=14, label="catalog cards")
        right.plot(grid, band[:, 0], color="C3",
                   label=f"fit: x{t['fit']['flop_per_byte']['growth_per_year']:.2f}/year")
        right.fill_between(grid, band[:, 1], band[:, 2], color="C3", alpha=0.15, label="95% interval of the fit")
        right.plot([ESSAY_H100["year"]], [ESSAY_H100["flop_per_byte"]], "*", color="C2", ms=14,
                   label=ESSAY_H100["label"])
        right.set_yscale("log")
        right.set(xlabel="release year", ylabel="FLOP per byte (F/W)", title="The balance: the memory wall")
        for ax, corner in ((left, "upper left"), (right, "lower right")):
            _log_ticks(ax)
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8, loc=corner)
        marks = {"fit": t["fit"], "extrapolation": t["extrapolation"], "essay_h100": ESSAY_H100,
                 "n_cards_plotted": len(fit_rows)}
        from pathlib import Path

        return _save(fig, Path(f"plot.{fmt}")), marks
