"""Measurement readers, the calibration fit and validation against real silicon.

Pipeline: ``readers`` (CSV -> typed tables) -> ``predict``/``serving`` (each row from datasheet figures and
the per-kernel SymPy builders of :mod:`inferonomics.symbolic.kernels`) -> ``fit`` (staged least squares on
log error, ``split`` says which rows are filtered and held out) -> ``calfile`` (TOML) -> ``validate``.

The fitted terms (all in the symbol table, ``# -- calibration terms``): efficiencies as fractions of the
datasheet rate (``eta_flop``, ``eta_flop_fp8``, ``eta_flop_fp8_block``, ``eta_bw``, ``eta_bw_torch``,
``eta_kv``, ``eta_kv_torch``, ``eta_link``, ``eta_link_nccl``), fixed times in seconds (``kernel_overhead_s``,
``kernel_overhead_fp8_s``, ``quant_overhead_s``, ``launch_overhead_s``, ``attn_kernel_s``, ``attn_item_s``,
``layer_overhead_s``, ``expert_overhead_s``, ``eager_layer_s``, ``collective_base_s``, ``nccl_base_s``,
``link_latency_s``, ``overhead_{trtllm,vllm,sglang}_s``, ``overhead_per_seq_s``,
``request_overhead_{trtllm,vllm,sglang}_s``),
FP4 compute (``eta_flop_fp4``, ``kloop_rate_fp4_bytes_per_s``), and counts (``attn_items_per_sm_torch``, ``act_passes``).

Attribution for NVIDIA's files: NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0.
"""

from inferonomics.optimize.calibration.calfile import CALIBRATION_SCHEMA_VERSION as CALIBRATION_SCHEMA_VERSION
from inferonomics.optimize.calibration.calfile import Calibration as Calibration
from inferonomics.optimize.calibration.calfile import calibration_for as calibration_for
from inferonomics.optimize.calibration.calfile import load_calibration as load_calibration
from inferonomics.optimize.calibration.calfile import write_calibration as write_calibration
from inferonomics.optimize.calibration.readers import Measurements as Measurements
from inferonomics.optimize.calibration.readers import read_measurements as read_measurements

__all__ = ["CALIBRATION_SCHEMA_VERSION", "Calibration", "Measurements", "calibration_for", "load_calibration",
           "read_measurements", "write_calibration", "calibrate"]


def calibrate(directory, hardware=None, date=None, use_measured_ceilings=False, prior=None):
    """Read ``directory``, fit, and return a :class:`Calibration` (see :func:`.api.calibrate`)."""
    from inferonomics.optimize.calibration.api import calibrate as _calibrate  # noqa: PLC0415 - SciPy only when fitting

    return _calibrate(directory, hardware=hardware, date=date, use_measured_ceilings=use_measured_ceilings,
                      prior=prior)
