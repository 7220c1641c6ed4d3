"""Datasheet numbers of the cards a measurement can name, from the catalog when it has them.

Only datasheet (spec-sheet) figures live here: dense peak FLOP/s per precision, HBM bandwidth, scale-up
link bandwidth per direction, and the SM count from the architecture whitepaper. Calibration turns them
into achieved rates with fitted fractions; nothing here is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferonomics.symbolic.errors import UnknownNameError


@dataclass(frozen=True)
class Datasheet:
    """Per-chip datasheet figures (SI units)."""

    name: str
    peak_bf16_flop_per_s: float
    peak_fp8_flop_per_s: float
    hbm_bandwidth_bytes_per_s: float
    link_bandwidth_bytes_per_s: float
    sm_count: int
    #: dense FP4 (NVFP4/MXFP4-class) rate where the card has one; None falls back to the FP8 rate
    peak_fp4_flop_per_s: float | None = None

    def peak(self, precision: str) -> float:
        return self.peak_fp8_flop_per_s if precision.startswith("fp8") else self.peak_bf16_flop_per_s


# Source: /work/shared/facts/hardware-specs.csv (vendor datasheets, sparse figures halved to dense);
# SM counts: NVIDIA H100 whitepaper (132 SMs on SXM5), Blackwell (148) and Blackwell Ultra (160) briefs.
_FALLBACK = {
    "h100-sxm": Datasheet("h100-sxm", 989.4e12, 1978.9e12, 3.35e12, 450e9, 132),
    "h200-sxm": Datasheet("h200-sxm", 989.4e12, 1978.9e12, 4.8e12, 450e9, 132),
    "b200": Datasheet("b200", 2250e12, 4500e12, 8.0e12, 900e9, 148),
    "gb200": Datasheet("gb200", 2500e12, 5000e12, 8.0e12, 900e9, 148),
    "b300": Datasheet("b300", 2250e12, 4500e12, 8.0e12, 900e9, 160),
    "gb300": Datasheet("gb300", 2500e12, 5000e12, 8.0e12, 900e9, 160),
}


#: streaming multiprocessors (NVIDIA) or compute units (AMD) of cards without a built-in row, from the
#: architecture whitepapers: Ampere (A100 108 SMs), Hopper (H100 PCIe 114), Ada (RTX 4090 128, L40S 142),
#: Blackwell GeForce (RTX 5090 170), AMD CDNA 2/3/4 (MI250X 2x110 CUs, MI300X/MI325X 304, MI355X 256).
SM_COUNTS = {"a100-sxm": 108, "h100-pcie": 114, "rtx-4090": 128, "l40s": 142, "rtx-5090": 170,
             "mi250x": 220, "mi300x": 304, "mi325x": 304, "mi355x": 256}


def _from_catalog(name: str) -> Datasheet | None:
    """The catalog's figures when the catalog (being written alongside) can give them."""
    try:
        from inferonomics.symbolic import catalog  # noqa: PLC0415
        hw = catalog.hardware(name)  # type: ignore[attr-defined]
        peaks = hw.peak_flop_per_s
        fb = _FALLBACK.get(name)
        return Datasheet(name, float(peaks["bf16"]), float(peaks.get("fp8", peaks["bf16"])),
                         float(hw.hbm_bandwidth_bytes_per_s),
                         float(getattr(hw, "link_bandwidth_bytes_per_s", fb.link_bandwidth_bytes_per_s if fb else 0)),
                         int(fb.sm_count if fb else SM_COUNTS.get(name, 132)),
                         float(peaks["fp4"]) if "fp4" in peaks else None)
    except Exception:  # noqa: BLE001 - the catalog may not exist yet or lack a field: use the datasheet table
        return None


def datasheet(name: str) -> Datasheet:
    """Datasheet figures of ``name`` (catalog first, then the built-in table); unknown -> UnknownNameError."""
    found = _from_catalog(name)
    if found is not None and found.hbm_bandwidth_bytes_per_s > 0:
        return found
    if name in _FALLBACK:
        return _FALLBACK[name]
    raise UnknownNameError("hardware", name, _FALLBACK)
