"""Datasheet numbers of the cards a measurement can name, from the catalog when it has them.

Only datasheet (spec-sheet) figures live here: dense peak FLOP/s per precision, HBM bandwidth, scale-up
link bandwidth per direction, and the SM count and L2 size from the architecture whitepapers. Calibration
turns them into achieved rates with fitted fractions; nothing here is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

from inferonomics.symbolic.errors import InvalidInputError


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
    #: on-chip L2 cache (bytes); 0 where no figure is published here (no benchmark operand is then L2-resident)
    l2_bytes: float = 0.0

    def peak(self, precision: str) -> float:
        return self.peak_fp8_flop_per_s if precision.startswith("fp8") else self.peak_bf16_flop_per_s


#: streaming multiprocessors (NVIDIA) or compute units (AMD), from the architecture whitepapers: Hopper
#: (H100/H200 SXM 132, H100 PCIe 114), Blackwell (148) and Blackwell Ultra (160) briefs, Ampere (A100 108),
#: Ada (RTX 4090 128, L40S 142), Blackwell GeForce (RTX 5090 170), AMD CDNA 2/3/4 (MI250X 2x110 CUs,
#: MI300X/MI325X 304, MI355X 256). Cards not listed use the H100's 132 (the occupancy term's calibration).
SM_COUNTS = {"h100-sxm": 132, "h200-sxm": 132, "b200": 148, "gb200": 148, "b300": 160, "gb300": 160,
             "a100-sxm": 108, "h100-pcie": 114, "rtx-4090": 128, "l40s": 142, "rtx-5090": 170,
             "mi250x": 220, "mi300x": 304, "mi325x": 304, "mi355x": 256}
DEFAULT_SM_COUNT = 132

_MiB = 2**20
#: L2 cache per chip: Hopper whitepaper (H100 SXM/PCIe 50 MB; H200 is the same GH100 die), Ampere whitepaper
#: (A100 40 MB), Chips and Cheese's B200 review (126 MB,
#: https://chipsandcheese.com/p/nvidias-b200-keeping-the-cuda-juggernaut; GB200 carries the same B200 die).
#: NVIDIA's cache "MB" are binary (cudaDevAttrL2CacheSize on H100: 52,428,800).
#: Blackwell Ultra (B300/GB300) is ASSUMED to keep B200's 126 MB: no published figure was found.
L2_BYTES = {"h100-sxm": 50 * _MiB, "h100-pcie": 50 * _MiB, "h200-sxm": 50 * _MiB, "a100-sxm": 40 * _MiB,
            "b200": 126 * _MiB, "gb200": 126 * _MiB, "b300": 126 * _MiB, "gb300": 126 * _MiB}


def datasheet(name: str) -> Datasheet:
    """Datasheet figures of catalog hardware ``name`` (one source of numbers: the catalog's TOML with their
    citations); an unknown name raises the catalog's UnknownNameError with suggestions."""
    from inferonomics.symbolic import catalog

    hw = catalog.hardware(name)
    peaks = hw.peak_flop_per_s
    if "bf16" not in peaks:
        raise InvalidInputError("hardware", "a card with a published bf16 rate (the kernel model needs one)", name)
    return Datasheet(name, float(peaks["bf16"]), float(peaks.get("fp8", peaks["bf16"])),
                     float(hw.hbm_bandwidth_bytes_per_s), float(hw.link_bandwidth_bytes_per_s or 0.0),
                     SM_COUNTS.get(name, DEFAULT_SM_COUNT), float(peaks["fp4"]) if "fp4" in peaks else None,
                     float(L2_BYTES.get(name, 0.0)))
