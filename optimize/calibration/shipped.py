"""Which shipped calibration a card gets: its own fit, else its architecture sibling's, else the H100's.

Every calibration's efficiencies are fractions of a datasheet rate and its paces belong to one SM or CTA, so a
fit carries over to another card by that card's datasheet. The nearer the architecture, the more of the
fit carries over: a Hopper card (H200, GH200, H100 PCIe) shares the H100's kernels and tile rules, a
Blackwell card (B300, GB200, GB300) the B200's FP4 tensor cores and kernels. Only the H100 fit has serving
rows; the B200 fit has kernel rows alone and takes its serving-level terms (engine overheads, prefill share)
from the H100 fit, as its file says under [unconstrained].
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

#: shipped fits, by the catalog name of the card they were fitted on
SHIPPED = {"h100-sxm": "calibration-h100.toml", "b200": "calibration-b200.toml"}
#: architecture siblings of the fitted cards (NVIDIA's Hopper and Blackwell architecture briefs: one die family)
SIBLING = {"h200-sxm": "h100-sxm", "gh200": "h100-sxm", "h100-pcie": "h100-sxm",
           "b300": "b200", "gb200": "b200", "gb300": "b200"}
#: the fit every other card gets
FALLBACK = "h100-sxm"


@dataclass(frozen=True)
class Choice:
    """The calibration a card gets and how: ``transfer`` is "own card", "architecture sibling by datasheet
    ratios", "other architecture by datasheet ratios" or "user file"."""

    fitted_on: str
    file: str
    transfer: str

    def describe(self, hardware: str) -> str:
        if self.transfer == "own card":
            return f"{self.fitted_on} calibration ({self.file}, own card)"
        if self.transfer == "user file":
            return f"calibration {self.file} (fitted on {self.fitted_on})"
        return f"{self.fitted_on} calibration ({self.file}), carried to {hardware} as {self.transfer}"


def choose(hardware: str) -> Choice:
    """The shipped calibration for catalog hardware ``hardware`` (a canonical catalog name)."""
    if hardware in SHIPPED:
        return Choice(hardware, SHIPPED[hardware], "own card")
    if hardware in SIBLING:
        card = SIBLING[hardware]
        return Choice(card, SHIPPED[card], "architecture sibling by datasheet ratios")
    return Choice(FALLBACK, SHIPPED[FALLBACK], "other architecture by datasheet ratios")


def shipped_path(file: str):
    """The packaged file ``file`` (an importlib.resources Traversable)."""
    return resources.files("inferonomics.optimize") / "data" / file
