"""The numbers the calculator embeds: which closed forms it shows, its inputs with their defaults (the essay's
example), and the catalog bound per model x weight precision and per card x compute precision."""

from __future__ import annotations

from inferonomics.symbolic import catalog
from inferonomics.symbolic.closedform import ClosedForm
from inferonomics.symbolic.errors import InferonomicsError
from inferonomics.symbolic.formulas import all_formulas
from inferonomics.symbolic.model import IDEAL_VALUES
from inferonomics.symbolic.symbols import info

from .spec import INPUTS, OUTPUTS, Input, Output


def wired_outputs() -> tuple[list[tuple[Output, ClosedForm]], list[Output]]:
    """(output, ClosedForm) for every OUTPUTS name that ``all_formulas()`` has, and the outputs it lacks."""
    by_name = {f.name: f for f in all_formulas()}
    present = [(o, by_name[o.name]) for o in OUTPUTS if o.name in by_name]
    return present, [o for o in OUTPUTS if o.name not in by_name]


def page_inputs(formulas: list[ClosedForm]) -> list[Input]:
    """INPUTS, plus one generic input for any argument of a shown formula that INPUTS lacks (a closed form
    added later with a new argument still gets a field: the flag is `evaluate`'s, or the symbol's name)."""
    from inferonomics.optimize.commands.evaluate import RAW_FLAGS

    flag_of = {sym: flag.replace("_", "-") for flag, sym in RAW_FLAGS.items()}
    have = {i.symbol for i in INPUTS}
    extra = []
    for f in formulas:
        for a in f.args:
            if a.name not in have:  # a positive symbol: the CLI's "a finite number > 0"
                have.add(a.name)
                extra.append(Input(flag_of.get(a.name, a.name.replace("_", "-")), a.name, info(a.name).meaning,
                                   "other"))
    return [*INPUTS, *extra]


def defaults() -> dict[str, float]:
    """The essay's example (optimize.derivation's values: the essay's figures and their labelled
    illustrative refinements), at batch 100, 1000 concurrent users and the seed's illustrative price."""
    from inferonomics.symbolic.essay import essay_values
    from inferonomics.symbolic.essay import essay_example

    v = essay_values()
    ex = essay_example()
    # the essay's step has no fixed overhead (the ideal model's, symbolic.model.IDEAL_VALUES)
    v.update(batch=float(ex.utilization_batches[1]), concurrency=ex.essay_concurrency,
             price_usd_per_chip_hour=_illustrative_price(), overhead_s=IDEAL_VALUES["overhead_s"])
    return v


#: the seed's ILLUSTRATIVE price of a chip-hour (optimize.essay.ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR; a test keeps
#: them equal): importing that module would load the solver and NumPy, a seventh of `web`'s run time
ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR = 2.0


def _illustrative_price() -> float:
    return ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR


def _keep(values: dict[str, float], names: set[str]) -> dict[str, float]:
    return {k: v for k, v in sorted(values.items()) if k in names}


def _try(fn, names: set[str]) -> dict:
    try:
        return _keep(fn(), names)
    except InferonomicsError as exc:  # e.g. a card with no rate at that compute precision
        return {"error": str(exc)}


def catalog_data(inputs: list[Input]) -> dict:
    """Catalog values for the page, keyed as the CLI resolves them (catalog_args.resolve_catalog_values):
    a model at each weight precision, a card at each compute precision, and the compute precision
    ``bind`` picks for each card and weight precision. Only symbols that inputs show are kept."""
    model_syms = {i.symbol for i in inputs if i.source == "model"}
    hw_syms = {i.symbol for i in inputs if i.source == "hardware"}
    precs = catalog.list_precisions()
    out: dict = {"precisions": {p: {"display": catalog.precision(p).display_name,
                                    "bytes_per_weight": float(catalog.precision(p).bytes_per_element)}
                                for p in precs}}
    out["models"] = {}
    for name in catalog.list_models():
        m = catalog.model(name)
        out["models"][name] = {
            "display": m.display_name, "default_precision": m.weight_precision,
            # the page's closed forms are the dense ones (N_a = N): say so for a mixture of experts
            "moe": catalog.model_values(m).get("n_experts", 1.0) > 1,
            "values": {p: _try(lambda p=p: catalog.model_values(m, p), model_syms) for p in precs}}
    out["hardware"] = {}
    for name in catalog.list_hardware():
        hw = catalog.hardware(name)
        out["hardware"][name] = {
            "display": hw.display_name,
            "values": {p: _try(lambda p=p: catalog.hardware_values(hw, p), hw_syms) for p in precs},
            "activation": {p: catalog.default_activation_precision(catalog.precision(p), hw) for p in precs}}
    # every spelling the CLI accepts (name, display name, alias; normalised as catalog.loader does) -> name
    from inferonomics.symbolic.catalog.loader import _index

    out["spellings"] = {kind: dict(sorted(_index(table).items()))
                        for kind, table in (("model", "models"), ("hardware", "hardware"), ("precision", "precisions"))}
    return out
