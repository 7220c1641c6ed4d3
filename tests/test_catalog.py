"""Catalog data and loader: every file loads, every number is sourced, lookups, bind, precisions, CLI."""

from __future__ import annotations

import json
import time
import tomllib
from importlib import resources

import pytest
from sympy import Rational

from inferonomics.symbolic import catalog
from inferonomics.symbolic.catalog.loader import hardware_from_tree, model_from_tree, precision_from_tree
from inferonomics.symbolic.catalog.schema import unsourced_numbers
from inferonomics.symbolic.errors import InvalidInputError, SpecError, UnknownNameError
from inferonomics.symbolic.symbols import TABLE

KINDS = ("hardware", "models", "precisions")


def _files(kind):
    folder = resources.files("inferonomics.symbolic.catalog").joinpath(kind)
    return sorted((e for e in folder.iterdir() if e.name.endswith(".toml")), key=lambda e: e.name)


ALL_FILES = [(k, f.name) for k in KINDS for f in _files(k)]


def _tree(kind, fname):
    return tomllib.loads(resources.files("inferonomics.symbolic.catalog").joinpath(kind, fname).read_text("utf-8"))


# -- data ------------------------------------------------------------------------------------------


def test_counts():
    assert len(catalog.list_hardware()) >= 25
    assert len(catalog.list_models()) >= 15
    assert set(catalog.list_precisions()) >= {"bf16", "fp16", "fp8", "int8", "int4", "fp4", "mxfp4"}
    assert "human-brain" not in catalog.list_hardware()


@pytest.mark.parametrize("kind,fname", ALL_FILES)
def test_every_number_has_source_and_retrieved(kind, fname):
    tree = _tree(kind, fname)
    assert unsourced_numbers(tree) == []
    # and every recorded Source has a citation and a YYYY-MM date
    rec = {"hardware": catalog.hardware, "models": catalog.model, "precisions": catalog.precision}[kind](fname[:-5])
    srcs = [rec.source] if kind == "precisions" else list(rec.sources.values())
    assert srcs
    for s in srcs:
        assert s.source.strip() and len(s.retrieved) == 7 and s.retrieved[4] == "-"


def test_hardware_sources_cover_every_number():
    for name in catalog.list_hardware():
        hw = catalog.hardware(name)
        for key in ("hbm_capacity_bytes", "hbm_bandwidth_bytes_per_s", "link_bandwidth_bytes_per_s",
                    "link_latency_s", "scaleup_domain_size", "power_w", "price_usd_per_chip_hour"):
            if getattr(hw, key) is not None:
                assert key in hw.sources, (name, key)
        for key in hw.peak_flop_per_s:
            assert f"peak_flop_per_s.{key}" in hw.sources
        assert "facts" not in " ".join(s.source for s in hw.sources.values()).lower().split("/")


def test_no_invented_prices():
    assert all(catalog.hardware(n).price_usd_per_chip_hour is None for n in catalog.list_hardware())


def test_link_latency_is_flagged_as_assumption():
    for name in catalog.list_hardware():
        hw = catalog.hardware(name)
        if hw.link_latency_s is not None:
            assert "ASSUMPTION" in hw.sources["link_latency_s"].source


def test_number_without_source_fails():
    tree = _tree("hardware", "h100-sxm.toml")
    tree["power_w"] = 700  # bare number: no source
    assert unsourced_numbers(tree) == ["power_w"]
    with pytest.raises(SpecError, match="power_w"):
        hardware_from_tree(tree, "h100-sxm.toml")
    tree = _tree("hardware", "h100-sxm.toml")
    del tree["power_w"]["source"]
    with pytest.raises(SpecError, match="power_w"):
        hardware_from_tree(tree, "x.toml")
    m = _tree("models", "llama2-7b.toml")
    del m["architecture"]["source"]
    with pytest.raises(SpecError, match="n_layers|architecture"):
        model_from_tree(m, "m.toml")
    p = _tree("precisions", "int4.toml")
    del p["source"]
    with pytest.raises(SpecError, match="bits_per_element|source"):
        precision_from_tree(p, "p.toml")


def test_sram_and_bandwidth_only_entries():
    for n in ("groq-lpu", "cerebras-wse3"):
        hw = catalog.hardware(n)
        assert hw.memory_kind == "sram" and "capacity" in hw.notes and "not comparable" in hw.notes
    for n in ("m2-ultra", "m3-ultra", "m4-max"):
        hw = catalog.hardware(n)
        assert hw.memory_kind == "unified" and not hw.peak_flop_per_s
    assert "halved" in catalog.hardware("h100-sxm").notes


@pytest.mark.parametrize("name,key,ridge,tol", [
    ("tpu-v6e", "bf16", 560, 2), ("rtx-5090", "bf16", 117, 1), ("h100-sxm", "bf16", 295, 1),
    ("h100-sxm", "fp8", 591, 1), ("mi300x", "bf16", 247, 1), ("a100-sxm", "bf16", 153, 1),
    ("groq-lpu", "fp16", 2.4, 0.1), ("tpu7x", "fp8", 626, 1), ("trainium2", "fp8", 448, 1),
])
def test_ridge_points_match_facts_readme(name, key, ridge, tol):
    assert catalog.hardware(name).ridge(key) == pytest.approx(ridge, abs=tol)


def test_gib_converted_exactly():
    assert catalog.hardware("tpu-v5p").hbm_capacity_bytes == 95 * 2**30
    assert catalog.hardware("trainium2").hbm_capacity_bytes == 96 * 2**30


# -- precisions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,nbytes", [("bf16", Rational(2)), ("fp16", Rational(2)), ("fp8", Rational(1)),
                                         ("int8", Rational(1)), ("int4", Rational(1, 2)), ("fp4", Rational(1, 2)),
                                         ("mxfp4", Rational(17, 32))])
def test_bytes_per_element_is_exact_rational(name, nbytes):
    b = catalog.precision(name).bytes_per_element
    assert isinstance(b, Rational) and b == nbytes


def test_precision_validation():
    p = _tree("precisions", "mxfp4.toml")
    del p["block_size"]
    with pytest.raises(SpecError, match="block_size"):
        precision_from_tree(p, "mxfp4.toml")


# -- lookup ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["H100", "h100", "h100-sxm", "NVIDIA H100 SXM", "H100-SXM"])
def test_hardware_aliases(alias):
    assert catalog.hardware(alias).name == "h100-sxm"


@pytest.mark.parametrize("alias,name", [("Llama-3.1-70B", "llama3.1-70b"), ("LLAMA3.1-70B", "llama3.1-70b"),
                                        ("DeepSeek-V3", "deepseek-v3"), ("Mixtral-8x7B", "mixtral-8x7b")])
def test_model_aliases(alias, name):
    assert catalog.model(alias).name == name


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="h100-sxm") as e:
        catalog.hardware("h100-sx")
    assert isinstance(e.value, KeyError) and e.value.kind == "hardware"
    with pytest.raises(UnknownNameError, match="llama3.1-70b"):
        catalog.model("llama3.1-7b")
    with pytest.raises(UnknownNameError, match="mxfp4"):
        catalog.precision("mxfp8")


def test_records_are_frozen():
    hw = catalog.hardware("h100")
    with pytest.raises(AttributeError):
        hw.power_w = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        hw.peak_flop_per_s["bf16"] = 1  # type: ignore[index]


def test_load_is_cached_and_fast():
    from inferonomics.symbolic.catalog.loader import _index, load_kind

    load_kind.cache_clear()
    _index.cache_clear()
    t = time.perf_counter()
    catalog.load_all()
    cold = time.perf_counter() - t
    assert cold < 0.25  # 50 ms on a quiet machine; generous under a loaded CI runner
    t = time.perf_counter()
    catalog.load_all()
    assert time.perf_counter() - t < 0.001


# -- malformed files ------------------------------------------------------------------------------


def _write(tmp_path, text, name="x.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_malformed_toml(tmp_path):
    with pytest.raises(SpecError, match="x.toml"):
        catalog.load_hardware_file(_write(tmp_path, "name = [unclosed"))


@pytest.mark.parametrize("edit,field", [
    (lambda t: t.pop("hbm_bandwidth_bytes_per_s"), "hbm_bandwidth_bytes_per_s"),
    (lambda t: t["hbm_capacity_bytes"].update(value=-8e10), "hbm_capacity_bytes.value"),
    (lambda t: t["hbm_capacity_bytes"].update(value="80 GB"), "hbm_capacity_bytes.value"),
    (lambda t: t["peak_flop_per_s"].update(tf32={"value": 1.0, "source": "x", "retrieved": "2026-11"}), "tf32"),
    (lambda t: t.update(memory_kind="dram"), "memory_kind"),
    (lambda t: t["power_w"].update(retrieved="last year"), "power_w.retrieved"),
    (lambda t: t.update(year="2022"), "year"),
])
def test_malformed_hardware_names_field(tmp_path, edit, field):
    tree = _tree("hardware", "h100-sxm.toml")
    edit(tree)
    with pytest.raises(SpecError) as e:
        hardware_from_tree(tree, tmp_path / "bad.toml")
    msg = str(e.value)
    assert "bad.toml" in msg and field in msg and "\n" not in msg


@pytest.mark.parametrize("edit,field", [
    (lambda t: t["architecture"].pop("n_layers"), "architecture.n_layers"),
    (lambda t: t["architecture"].update(d_model=-1), "architecture.d_model"),
    (lambda t: t["architecture"].update(d_model=4096.5), "architecture.d_model"),
    (lambda t: t["architecture"].update(attention="XQA"), "architecture.attention"),
    (lambda t: t["architecture"].update(n_experts=8), "architecture.experts_per_token"),
    (lambda t: t.pop("published_total_params"), "published_total_params"),
])
def test_malformed_model_names_field(tmp_path, edit, field):
    tree = _tree("models", "llama2-7b.toml")
    edit(tree)
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        model_from_tree(tree, tmp_path / "bad.toml")


def test_user_files_roundtrip(tmp_path):
    src = resources.files("inferonomics.symbolic.catalog").joinpath("hardware", "h100-sxm.toml").read_text("utf-8")
    hw = catalog.load_hardware_file(_write(tmp_path, src.replace('"h100-sxm"', '"my-card"'), "my-card.toml"))
    assert hw.name == "my-card" and hw.hbm_bandwidth_bytes_per_s == 3.35e12
    src = resources.files("inferonomics.symbolic.catalog").joinpath("models", "llama2-7b.toml").read_text("utf-8")
    m = catalog.load_model_file(_write(tmp_path, src, "m.toml"))
    assert m.architecture.n_layers == 32
    with pytest.raises(SpecError, match="nope.toml"):
        catalog.load_model_file(tmp_path / "nope.toml")


# -- bind ------------------------------------------------------------------------------------------


def test_bind_keys_are_symbol_names():
    v = catalog.bind("llama3.1-70b", "h100", "bf16")
    assert set(v) <= set(TABLE)
    assert "price_usd_per_chip_hour" not in v
    assert v["peak_flop_per_s"] == 989e12 and v["bytes_per_weight"] == 2.0
    assert v["kv_bytes_per_token"] == 2 * 80 * 8 * 128 * 2
    assert v["n_experts"] == v["experts_per_token"] == 1 and v["expert_params"] == 0
    assert v["dense_params"] == v["total_params"] == v["active_params"]


def test_bind_w8a16_and_fp8():
    w8 = catalog.bind("llama3.1-70b", "h100", "int8")
    assert w8["bytes_per_weight"] == 1.0 and w8["peak_flop_per_s"] == 989e12 and w8["bytes_per_activation"] == 2.0
    f8 = catalog.bind("llama3.1-70b", "h100", "fp8")
    assert f8["peak_flop_per_s"] == 1979e12 and f8["bytes_per_activation"] == 1.0
    a100 = catalog.bind("llama3.1-70b", "a100", "fp8")  # no FP8 on A100: computes at bf16
    assert a100["peak_flop_per_s"] == 312e12
    w4 = catalog.bind("llama3.1-70b", "h100", "int4")
    assert w4["bytes_per_weight"] == 0.5 and w4["peak_flop_per_s"] == 989e12
    w8a8 = catalog.bind("llama3.1-70b", "h100", "int8", activation_precision="int8")
    assert w8a8["peak_flop_per_s"] == 1979e12


def test_bind_kv_precision_separate():
    v = catalog.bind("deepseek-v3", "h200", kv_precision="fp8")
    assert v["kv_bytes_per_token"] == 61 * 576 * 1 and v["bytes_per_kv"] == 1.0
    assert v["bytes_per_weight"] == 1.0  # DeepSeek-V3 default weights fp8
    assert v["total_params"] == pytest.approx(v["dense_params"] + 256 * v["expert_params"])
    assert v["active_params"] == pytest.approx(v["dense_params"] + 8 * v["expert_params"])


def test_bind_missing_compute_precision():
    with pytest.raises(InvalidInputError, match="fp4"):
        catalog.bind("llama3.1-8b", "h100", "mxfp4", activation_precision="mxfp4")
    with pytest.raises(InvalidInputError, match="int4"):
        catalog.bind("llama3.1-8b", "h100", activation_precision="int4")
    with pytest.raises(InvalidInputError, match="groq-lpu"):
        catalog.bind("llama3.1-8b", "groq-lpu")  # only an FP16 figure: say --activation-precision fp16
    assert catalog.bind("llama3.1-8b", "groq-lpu", activation_precision="fp16")["peak_flop_per_s"] == 188e12


def test_bind_bandwidth_only_and_unknown_architecture():
    v = catalog.bind("llama3.1-8b", "m4-max")
    assert "peak_flop_per_s" not in v and v["hbm_bandwidth_bytes_per_s"] == 546e9
    e = catalog.bind("essay-1.6t", "h100")
    assert e["total_params"] == e["active_params"] == 1.6e12 and "n_layers" not in e


# -- CLI -------------------------------------------------------------------------------------------


def _main(argv):
    from inferonomics.optimize.cli import main

    return main(argv)


def test_cli_list(capsys):
    assert _main(["list", "hardware"]) == 0
    assert "h100-sxm" in capsys.readouterr().out
    assert _main(["list", "models", "--json"]) == 0
    names = [x["name"] for x in json.loads(capsys.readouterr().out)]
    assert "deepseek-v3" in names and len(names) >= 15
    assert _main(["list", "precisions"]) == 0
    assert "mxfp4" in capsys.readouterr().out


def test_cli_show_model_json(capsys):
    assert _main(["show", "Llama-3.1-405B", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["total_params"] == pytest.approx(405.85e9, rel=1e-3)
    assert d["kv_bytes_per_token"] == 2 * 126 * 8 * 128 * 2
    assert "active_params" in d and d["sources"]


def test_cli_show_hardware_and_precision(capsys):
    assert _main(["show", "H100", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["peak_flop_per_s"]["bf16"] == 989e12 and "hbm_capacity_bytes" in d["sources"]
    assert _main(["show", "mxfp4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["bytes_per_element"] == "17/32"
    assert _main(["show", "tpu-v6e"]) == 0
    assert "Trillium" in capsys.readouterr().out


def test_cli_show_model_config(capsys):
    from pathlib import Path

    cfg = Path(__file__).parent / "fixtures" / "configs" / "deepseek_v3.json"
    assert _main(["show", "--model-config", str(cfg), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["total_params"] == pytest.approx(671e9, rel=0.01) and d["kv_bytes_per_token"] == 61 * 576 * 2


@pytest.mark.parametrize("argv,needle", [
    (["show", "h1000"], "did you mean"),
    (["show"], "exactly one"),
    (["show", "--model-config", "/nonexistent/config.json"], "config.json"),
])
def test_cli_bad_input_one_line_exit_2(capsys, argv, needle):
    assert _main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_list_bad_kind_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        _main(["list", "gpus"])
    assert e.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# -- shared catalog flags -----------------------------------------------------------------------------


def _args(argv):
    import argparse

    from inferonomics.optimize.commands.catalog_args import add_catalog_args

    p = argparse.ArgumentParser()
    add_catalog_args(p)
    return p.parse_args(argv)


def test_resolve_catalog_values():
    from inferonomics.optimize.commands.catalog_args import resolve_catalog_values

    assert resolve_catalog_values(_args([])) == {}
    v = resolve_catalog_values(_args(["--model", "llama3.1-8b", "--hardware", "H100", "--precision", "int8",
                                      "--set", "batch=16", "--set", "power_w=650"]))
    assert v["bytes_per_weight"] == 1.0 and v["batch"] == 16.0 and v["power_w"] == 650.0
    assert v["peak_flop_per_s"] == 989e12
    hw_only = resolve_catalog_values(_args(["--hardware", "b200"]))
    assert hw_only["hbm_bandwidth_bytes_per_s"] == 8e12 and "total_params" not in hw_only
    m_only = resolve_catalog_values(_args(["--model", "mixtral-8x7b", "--kv-precision", "fp8"]))
    assert m_only["n_experts"] == 8 and m_only["bytes_per_kv"] == 1.0
    assert resolve_catalog_values(_args(["--set", "tp=4"])) == {"tp": 4.0}


@pytest.mark.parametrize("argv,exc,needle", [
    (["--set", "batchh=4"], UnknownNameError, "batch"),
    (["--set", "batch=-1"], InvalidInputError, "batch"),
    (["--set", "batch"], InvalidInputError, "KEY=VALUE"),
    (["--set", "batch=abc"], InvalidInputError, "batch"),
    (["--model", "llama3.1-8b", "--model-file", "x.toml"], InvalidInputError, "model"),
    (["--hardware", "h10"], UnknownNameError, "h100"),
])
def test_resolve_catalog_values_errors(argv, exc, needle):
    from inferonomics.optimize.commands.catalog_args import resolve_catalog_values

    with pytest.raises(exc, match=needle):
        resolve_catalog_values(_args(argv))


def test_citation_keys_resolve():
    hw = catalog.hardware("h100")
    assert hw.sources["hbm_capacity_bytes"].source.startswith("https://www.nvidia.com/")
    tree = _tree("hardware", "h100-sxm.toml")
    tree["power_w"]["source"] = "vendro"  # a typo'd key must not pass as a citation
    with pytest.raises(SpecError, match="power_w.source"):
        hardware_from_tree(tree, "x.toml")
    tree = _tree("hardware", "h100-sxm.toml")
    tree["power_w"]["source"] = "Smith et al. 2024, arXiv:2401.00001"  # a literal citation is fine
    assert hardware_from_tree(tree, "x.toml").sources["power_w"].source.startswith("Smith")


def test_sm_count_and_l2_come_from_the_catalog_with_sources():
    """The kernel model's per-card figures are catalog data with citations, keyed by any spelling of the card;
    a card the catalog gives no SM count is refused, never given another card's."""
    from inferonomics.optimize.calibration.hardware import datasheet
    from inferonomics.symbolic.errors import InvalidInputError

    for spelling in ("b200", "B200", "hgx-b200"):
        ds = datasheet(spelling)
        assert ds.name == "b200" and ds.sm_count == 148 and ds.l2_bytes == 126 * 2**20
    assert datasheet("h100").sm_count == 132 and datasheet("mi300x").sm_count == 304
    for name in ("h100-sxm", "b200", "mi300x", "a100-sxm"):
        hw = catalog.hardware(name)
        assert hw.sources["sm_count"].source.strip()
    assert "ASSUMPTION" in catalog.hardware("b300").sources["l2_cache_bytes"].source
    with pytest.raises(InvalidInputError, match="SM"):
        datasheet("tpu-v5e")
