"""Offline Hugging Face config.json import: every supported architecture counts within 1% of published.

Fixtures in tests/fixtures/configs/ restate the public config.json of each model (field names as on the
Hub): llama = Llama-3.1-8B, mistral = Mistral-7B-v0.1, mixtral = Mixtral-8x7B-v0.1, qwen2 = Qwen2.5-7B,
qwen3 = Qwen3-32B, qwen3_moe = Qwen3-235B-A22B, deepseek_v3 = DeepSeek-V3, gpt_oss = gpt-oss-120b,
gemma2 = gemma-2-27b.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferonomics.symbolic import architecture as A
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import SpecError
from inferonomics.symbolic.hf_config import model_from_hf_config

CONFIGS = Path(__file__).parent / "fixtures" / "configs"

#: fixture -> (published total, published active, source)
PUBLISHED = {
    "llama": (8.03e9, 8.03e9, "facts model-specs.csv: Llama-3.1-8B"),
    "mistral": (7.3e9, 7.3e9, "Mistral AI, 'Announcing Mistral 7B' (2023-09): 7.3B parameters"),
    "mixtral": (46.7e9, 12.9e9, "facts model-specs.csv: Mixtral-8x7B"),
    "qwen2": (7.61e9, 7.61e9, "Qwen2.5-7B model card: 7.61B parameters (6.53B non-embedding)"),
    "qwen3": (32.8e9, 32.8e9, "facts model-specs.csv: Qwen3-32B"),
    "qwen3_moe": (235e9, 22e9, "facts model-specs.csv: Qwen3-235B-A22B"),
    "deepseek_v3": (671e9, 37e9, "facts model-specs.csv: DeepSeek-V3 (main model, no MTP)"),
    "gpt_oss": (117e9, 5.1e9, "facts model-specs.csv: gpt-oss-120b"),
    "gemma2": (27.2e9, 27.2e9, "facts model-specs.csv: Gemma-2-27B"),
}
ACTIVE_TOL = {"deepseek_v3": 0.015}  # "37B" is rounded; see tests/test_catalog_models.py
CATALOG_TWIN = {"llama": "llama3.1-8b", "mixtral": "mixtral-8x7b", "qwen3": "qwen3-32b", "qwen3_moe": "qwen3-235b-a22b",
                "deepseek_v3": "deepseek-v3", "gpt_oss": "gpt-oss-120b", "gemma2": "gemma2-27b"}


@pytest.mark.parametrize("stem", sorted(PUBLISHED))
def test_import_counts_within_1pct(stem):
    m = model_from_hf_config(CONFIGS / f"{stem}.json")
    total, active, _ = PUBLISHED[stem]
    assert A.total_params(m) == pytest.approx(total, rel=0.01)
    assert A.active_params(m) == pytest.approx(active, rel=ACTIVE_TOL.get(stem, 0.01))


@pytest.mark.parametrize("stem", sorted(CATALOG_TWIN))
def test_import_matches_catalog_entry(stem):
    m = model_from_hf_config(CONFIGS / f"{stem}.json")
    twin = catalog.model(CATALOG_TWIN[stem])
    assert A.total_params(m) == A.total_params(twin)
    assert A.active_params(m) == A.active_params(twin)
    assert A.kv_elements_per_token(m, 32768) == A.kv_elements_per_token(twin, 32768)


def test_details():
    ds = model_from_hf_config(CONFIGS / "deepseek_v3.json")
    assert ds.architecture.attention == "MLA" and ds.weight_precision == "fp8"
    assert A.kv_elements_per_token(ds) == 61 * 576
    oss = model_from_hf_config(CONFIGS / "gpt_oss.json")
    assert oss.weight_precision == "mxfp4" and oss.architecture.window == 128
    mistral = model_from_hf_config(CONFIGS / "mistral.json")
    assert mistral.architecture.sliding_window_pattern == "all"
    assert A.kv_elements_per_token(mistral, 8192) == 32 * 2 * 8 * 128 // 2
    assert model_from_hf_config(CONFIGS / "qwen2.json").architecture.window is None  # use_sliding_window false
    assert model_from_hf_config(CONFIGS / "gemma2.json").architecture.tied_embeddings


def _bad(tmp_path, edit, stem="llama"):
    cfg = json.loads((CONFIGS / f"{stem}.json").read_text())
    edit(cfg)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


@pytest.mark.parametrize("edit,field", [
    (lambda c: c.pop("hidden_size"), "hidden_size"),
    (lambda c: c.update(num_hidden_layers="32"), "num_hidden_layers"),
    (lambda c: c.update(intermediate_size=-14336), "intermediate_size"),
    (lambda c: c.update(vocab_size=1.5), "vocab_size"),
    (lambda c: c.update(architectures=["BertModel"]), "architectures"),
    (lambda c: c.pop("architectures"), "architectures"),
    (lambda c: c.update(tie_word_embeddings="no"), "tie_word_embeddings"),
])
def test_malformed_config_names_field(tmp_path, edit, field):
    with pytest.raises(SpecError) as e:
        model_from_hf_config(_bad(tmp_path, edit))
    msg = str(e.value)
    assert "config.json" in msg and field in msg and "\n" not in msg


def test_malformed_moe_config(tmp_path):
    with pytest.raises(SpecError, match="n_routed_experts"):
        model_from_hf_config(_bad(tmp_path, lambda c: c.pop("n_routed_experts"), "deepseek_v3"))
    with pytest.raises(SpecError, match="num_experts_per_tok"):
        model_from_hf_config(_bad(tmp_path, lambda c: c.update(num_experts_per_tok=0), "mixtral"))


def test_malformed_json(tmp_path):
    p = tmp_path / "config.json"
    p.write_text('{"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,,}')
    with pytest.raises(SpecError, match="config.json: line 1"):
        model_from_hf_config(p)
    p.write_text("[1, 2]")
    with pytest.raises(SpecError, match="JSON object"):
        model_from_hf_config(p)
    with pytest.raises(SpecError, match="missing.json"):
        model_from_hf_config(tmp_path / "missing.json")


def test_layer_types_checked(tmp_path):
    def odd_first(c):
        c["layer_types"] = ["full_attention", "sliding_attention"] * 18

    with pytest.raises(SpecError, match="layer_types"):
        model_from_hf_config(_bad(tmp_path, odd_first, "gpt_oss"))
    none = model_from_hf_config(_bad(tmp_path, lambda c: c.update(layer_types=["full_attention"] * 36), "gpt_oss"))
    assert none.architecture.window is None
