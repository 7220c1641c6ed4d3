"""The derivation document's sections on speculation (the other way around the essay's bandwidth wall) and on
pipeline parallelism: the sentence, the closed forms, and table values checked by hand."""

from __future__ import annotations

import math

import pytest

from inferonomics.optimize.derivation_parallel import pipeline_section, speculation_section
from inferonomics.symbolic.document import render_markdown, render_tex
from inferonomics.symbolic.formulas import get_formula


@pytest.fixture(scope="module")
def docs():
    secs = (speculation_section(), pipeline_section())
    return render_tex((), (), secs), render_markdown((), (), secs)


def _rows(section):
    return {q: v for q, _, v in section.table.rows}


def test_document_says_speculation_is_the_other_way_around_the_bandwidth_wall(docs):
    for text in docs:
        flat = " ".join(text.split())
        assert "Speculative decoding is the other way around the essay's bandwidth wall at batch 1" in flat
        assert "nearly free" in flat and "compute-bound" in flat
    tex, md = docs
    for name in ("spec_decode_tokens_per_step", "spec_decode_speedup", "spec_decode_break_even_batch",
                 "pp_token_time", "pp_throughput_gain", "pp_break_even_batch", "pp_stages_to_fit"):
        latex = get_formula(name).latex()
        assert latex in tex and latex in md, name


def test_speculation_table_by_hand():
    rows = _rows(speculation_section())
    e = (1 - 0.8 ** 4) / (1 - 0.8)  # 2.952 expected tokens with gamma = 3, alpha = 0.8
    assert rows["expected tokens per verification step"] == "2.95"
    bstar = 3e15 * 1.0 / (2 * 3e12)  # the essay's 500
    assert rows["batch beyond which speculation stops paying"] == f"{bstar * (e - 3 * 0.05) / 4:,.0f}"
    # memory-bound at batch 1: the verification step costs what a plain step does, plus the draft's gamma c
    assert rows["speed-up at batch 1"] == f"{e / (1 + 3 * 0.05):.3g}"


def test_pipeline_table_by_hand():
    rows = _rows(pipeline_section())
    weights = 405_853_388_800 * 2  # Llama-3.1-405B in bf16 (the catalog's parameter count)
    assert rows["stages of 8 H100s to hold the bf16 weights"] == str(math.ceil(weights / (8 * 80e9)))
    assert rows["batch from which both micro-batches are compute-bound"] == f"{2 * 989e12 * 2 / (2 * 3.35e12):,.0f}"
