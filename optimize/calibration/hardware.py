"""Datasheet numbers of a card as the kernel model needs them, read from the catalog (one source of numbers,
each with its citation in the card's TOML).

Only datasheet (spec-sheet) figures: dense peak FLOP/s per precision, HBM bandwidth, scale-up link bandwidth per
direction, and the SM count and L2 size from the architecture whitepapers. Calibration turns them into achieved
rates with fitted fractions; nothing here is measured.
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


def datasheet(name: str) -> Datasheet:
    """Datasheet figures of catalog hardware ``name`` (one source of numbers: the catalog's TOML with their
    citations); an unknown name raises the catalog's UnknownNameError with suggestions."""
    from inferonomics.symbolic import catalog

    hw = catalog.hardware(name)
    peaks = hw.peak_flop_per_s
    if "bf16" not in peaks:
        raise InvalidInputError("hardware", "a card with a published bf16 rate (the kernel model needs one)", name)
    if hw.sm_count is None:  # the occupancy and per-SM terms need it; another card's count would be a guess
        raise InvalidInputError("hardware", "a card whose SM (compute unit) count the catalog gives (the "
                                "kernel-level serving model needs one)", hw.name)
    return Datasheet(hw.name, float(peaks["bf16"]), float(peaks.get("fp8", peaks["bf16"])),
                     float(hw.hbm_bandwidth_bytes_per_s), float(hw.link_bandwidth_bytes_per_s or 0.0),
                     hw.sm_count, float(peaks["fp4"]) if "fp4" in peaks else None, float(hw.l2_cache_bytes or 0.0))
