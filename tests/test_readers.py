"""Measurement readers: good fixtures parse into typed tables; malformed ones fail with file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inferonomics.optimize.calibration.readers import (KINDS, device_to_hardware, read_measurements)
from inferonomics.symbolic.errors import InferonomicsError, SpecError

FIX = Path(__file__).parent / "fixtures" / "measurements"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "measurements"


def test_good_fixture_reads_every_kind():
    m = read_measurements(FIX / "good")
    kinds = {t.kind for t in m.tables}
    assert kinds == set(KINDS)
    assert m.hardware == ("h100-sxm",)
    for t in m.tables:
        assert t.rows["latency_s"].dtype == float and np.all(t.rows["latency_s"] > 0)
        assert t.rows["line"][0] == 2
    assert m.ceilings["d2d_copy_bf16_2GiB"] == pytest.approx(3.0054, rel=1e-3)
    # the ceilings belong to the card of the env.txt beside them, never to another card's rows
    assert m.ceilings_hardware == "h100-sxm"
    assert m.ceilings_for("h100-sxm") == m.ceilings and m.ceilings_for("b200") == {}
    assert {f.path.name for f in m.files} >= {"gemm_h100_sxm.csv", "env.txt"} - {"env.txt"}
    assert all(len(f.sha256) == 64 for f in m.files)


def test_subdirectory_alone_reads():
    m = read_measurements(FIX / "good" / "nvidia")
    assert {t.source for t in m.tables} == {"nvidia"}
    serving = m.of_kind("serving_tpot")[0].rows
    assert np.isnan(serving["batch_size"][0])  # the disaggregated row leaves the agg columns empty


@pytest.mark.parametrize("folder, where", [
    ("missing_column", "gemm_h100_sxm.csv: line 1: columns latency_ms"),
    ("non_numeric", "gemm_h100_sxm.csv: line 3: column m"),
    ("negative_latency", "gemm_h100_sxm.csv: line 4: column latency_ms: a positive number"),
    ("unknown_device", "env.txt: line 1: unknown device 'NVIDIA H100 NVL'"),
    ("unknown_system", "collectives.csv: line 2: unknown system 'tpu_v9'"),
    ("unknown_gemm_system", "gemm_a100_sxm.csv: file name"),
    ("short_row", "layer_prefill.csv: line 3: 7 fields, got 3"),
])
def test_malformed_rows_name_file_and_line(folder, where):
    with pytest.raises(SpecError) as info:
        read_measurements(FIX / folder)
    assert where in str(info.value)
    assert isinstance(info.value, (InferonomicsError, ValueError))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("row, where", [
    ("torch_flow,bfloat16,-1,128,128,0.01", "line 2: column m: a positive number, got -1"),
    ("torch_flow,bfloat16,0,128,128,0.01", "line 2: column m: a positive number, got 0"),
    ("torch_flow,bfloat16,1,128,128,-0.01", "line 2: column latency_ms: a positive number, got -0.01"),
])
def test_negative_or_zero_sizes_are_refused(tmp_path, row, where):
    (tmp_path / "gemm_h100_sxm.csv").write_text(f"kernel_source,dtype,m,n,k,latency_ms\n{row}\n")
    with pytest.raises(SpecError, match=where):
        read_measurements(tmp_path)


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    text = (FIX / "good" / "nvidia" / "collectives.csv").read_text()
    (tmp_path / "collectives.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_measurements(tmp_path).hardware == ("h100-sxm",)


def test_missing_and_empty_directories(tmp_path):
    with pytest.raises(SpecError, match="an existing directory"):
        read_measurements(tmp_path / "nope")
    with pytest.raises(SpecError, match="at least one known measurement CSV"):
        read_measurements(tmp_path)
    (tmp_path / "notes.txt").write_text("nothing to read")
    with pytest.raises(SpecError):
        read_measurements(tmp_path)


def test_our_csvs_without_env_are_refused(tmp_path):
    (tmp_path / "layer_prefill.csv").write_text((FIX / "good" / "h100" / "layer_prefill.csv").read_text())
    with pytest.raises(SpecError, match="env.txt"):
        read_measurements(tmp_path)


@pytest.mark.parametrize("device, name", [
    ("NVIDIA H100 80GB HBM3", "h100-sxm"), ("h100_sxm", "h100-sxm"), ("h200_sxm", "h200-sxm"),
    ("NVIDIA H200", "h200-sxm"), ("b200_sxm", "b200"), ("NVIDIA B200", "b200"), ("gb200", "gb200"),
    ("NVIDIA GB200", "gb200"), ("b300_sxm", "b300"), ("gb300", "gb300"), ("NVIDIA A100-SXM4-80GB", "a100-sxm"),
    ("NVIDIA B300 SXM6 AC", "b300"), ("NVIDIA H100 PCIe", "h100-pcie"),
    # variants the catalog lacks are unknown, never a sibling card with other rates
    ("NVIDIA H100 NVL", None), ("NVIDIA H200 NVL", None), ("NVIDIA A100 80GB PCIe", None),
    ("NVIDIA A100-SXM4-40GB", None), ("NVIDIA GH200 480GB", None),
])
def test_device_mapping(device, name):
    assert device_to_hardware(device) == name


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/measurements is absent (real data not checked out)")
def test_whole_shared_directory_reads_every_row():
    """Each NVIDIA file's rows are counted a second way (the csv module, one row per system) and every card
    folder keeps its own tables. (Read speed is a figure of tests/benchmarks/bench_calibration.py, per row.)"""
    import csv
    from collections import Counter

    m = read_measurements(SHARED)
    got = Counter()
    for t in m.tables:
        if t.source == "nvidia" and t.kind != "serving_ttft":
            got[(t.path.relative_to(SHARED).as_posix(), t.hardware)] += len(t)
    want = Counter()
    for path in sorted(SHARED.glob("nvidia-silicon*/*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                system = row.get("system") or path.stem.split("_", 1)[1]  # gemm_<system>.csv has no column
                want[(path.relative_to(SHARED).as_posix(), device_to_hardware(system))] += 1
    assert got == want
    assert want[("nvidia-silicon/gemm_h100_sxm.csv", "h100-sxm")] == 100668
    assert want[("nvidia-silicon-b200/decode_attention.csv", "b200")] == 50520
