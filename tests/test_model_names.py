"""Model names as serving engines write them resolve to catalog entries and precisions (issue 14 item 6)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from inferonomics.optimize.calibration import serving
from inferonomics.optimize.calibration.readers import read_measurements
from inferonomics.symbolic import architecture as A
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import SpecError, UnknownNameError
from inferonomics.symbolic.hf_config import model_from_hf_config

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CONFIGS = SHARED / "facts" / "configs"
SERVING = SHARED / "measurements" / "nvidia-silicon" / "serving_e2e.csv"


@pytest.mark.parametrize(("name", "model", "precision"), [
    ("nvidia/Llama-3.1-8B-Instruct-FP8", "llama3.1-8b", "fp8"),
    ("meta-llama/Llama-3.1-70B-Instruct", "llama3.1-70b", None),
    ("meta-llama/Llama-3.1-70B", "llama3.1-70b", None),
    ("deepseek-ai/DeepSeek-R1", "deepseek-v3", None),  # R1 is a fine-tune of V3's architecture
    ("deepseek-ai/DeepSeek-R1-0528", "deepseek-v3", None),
    ("Qwen/Qwen3-235B-A22B-FP8", "qwen3-235b-a22b", "fp8"),
    ("MiniMaxAI/MiniMax-M2.5", "minimax-m2.5", None),
    ("zai-org/GLM-5-FP8", "glm-5", "fp8"),
    ("moonshotai/Kimi-K2.5", "kimi-k2.5", None),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4-scout", None),
    ("meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8", "llama4-maverick", "fp8"),
    ("meta-llama/Llama-3.3-70B-Instruct", "llama3.3-70b", None),
    ("Qwen/Qwen3-30B-A3B", "qwen3-30b-a3b", None),
    ("nvidia/Llama-3.3-70B-Instruct-NVFP4", "llama3.3-70b", "fp4"),
    ("llama3.1-8b", "llama3.1-8b", None),
])
def test_engine_names_resolve(name, model, precision):
    r = catalog.resolve_model(name)
    assert (r.model.name, r.precision) == (model, precision)
    assert catalog.model(name).name == model
    assert r.weight_precision == (precision or catalog.model(model).weight_precision)


def test_a_name_without_a_suffix_keeps_the_models_own_precision():
    assert catalog.resolve_model("deepseek-ai/DeepSeek-R1").weight_precision == "fp8"  # released in FP8
    assert catalog.resolve_model("meta-llama/Llama-3.1-70B-Instruct").weight_precision == "bf16"


@pytest.mark.parametrize("name", ["nvidia/Llama-9-8B-Instruct-FP8", "FP8", "", "acme/"])
def test_unknown_names_raise_with_the_name(name):
    with pytest.raises(UnknownNameError):
        catalog.resolve_model(name)


def test_unknown_name_suggests_a_close_entry():
    with pytest.raises(UnknownNameError, match="llama3.1-8b"):
        catalog.model("llama3.1-8c")


def test_every_model_path_in_nvidias_serving_rows_resolves():
    with SERVING.open() as fh:
        paths = {row["model_path"] for row in csv.DictReader(fh)}
    for path in paths:
        a = serving.architecture(path)
        assert a is not None, path
    assert serving.architecture("MiniMaxAI/MiniMax-M2.5").n_experts == 256
    assert serving.architecture("acme/not-a-model") is None


def test_measurement_folder_configs_give_serving_rows_an_architecture(tmp_path):
    name = "acme/Qwen3-30B-A3B-Clone-7"
    assert serving.architecture(name) is None
    folder = tmp_path / "nv"
    (folder / "configs").mkdir(parents=True)
    shutil.copy(CONFIGS / "Qwen--Qwen3-30B-A3B.json", folder / "configs" / "acme--Qwen3-30B-A3B-Clone-7.json")
    with SERVING.open() as fh:
        rows = list(csv.DictReader(fh))
    with (folder / "serving_e2e.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(dict(r, model_path=name) for r in rows[:3])
    meas = read_measurements(tmp_path)
    assert any(f.path.name == "acme--Qwen3-30B-A3B-Clone-7.json" for f in meas.files)
    a = serving.architecture(name)
    # counted from the config by hand: 48 layers of 128 experts of 3 x 2048 x 768
    assert a is not None and a.n_experts == 128
    assert A.breakdown(a)["routed_experts"] == 48 * 128 * 3 * 2048 * 768
    # an -FP8 checkpoint of the same registered model resolves too, with its precision
    assert catalog.resolve_model(name + "-FP8").precision == "fp8"


def test_a_bad_config_in_a_measurement_folder_is_a_spec_error(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "acme--broken.json").write_text('{"architectures": ["NopeForCausalLM"]}')
    shutil.copy(SERVING, tmp_path / "serving_e2e.csv")
    with pytest.raises(SpecError, match="architectures"):
        read_measurements(tmp_path)


@pytest.mark.parametrize(("config", "entry", "precision"), [
    ("MiniMaxAI--MiniMax-M2.5.json", "minimax-m2.5", "fp8"),
    ("Qwen--Qwen3-30B-A3B.json", "qwen3-30b-a3b", "bf16"),
    ("Qwen--Qwen3.5-397B-A17B.json", "qwen3.5-397b-a17b", "bf16"),
    ("meta-llama--Llama-4-Maverick-17B-128E-Instruct.json", "llama4-maverick", "bf16"),
    ("meta-llama--Llama-4-Scout-17B-16E-Instruct.json", "llama4-scout", "bf16"),
    ("moonshotai--Kimi-K2.5.json", "kimi-k2.5", "int4"),
    ("zai-org--GLM-5-FP8.json", "glm-5", "fp8"),
])
def test_catalog_entries_transcribe_their_config(config, entry, precision):
    """Each hand-written entry counts what its model's own config.json, read offline, counts."""
    m, e = model_from_hf_config(CONFIGS / config), catalog.model(entry)
    assert A.breakdown(m) == A.breakdown(e)
    assert A.kv_elements_per_token(m) == A.kv_elements_per_token(e)
    assert m.weight_precision == precision
