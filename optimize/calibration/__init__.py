"""Measurement readers, the calibration fit and validation against real silicon.

Attribution for NVIDIA's files: NVIDIA aiconfigurator-core 0.12.0 measurement data, Apache-2.0.
"""

from .calfile import CALIBRATION_SCHEMA_VERSION as CALIBRATION_SCHEMA_VERSION
from .calfile import Calibration as Calibration
from .calfile import load_calibration as load_calibration
from .calfile import write_calibration as write_calibration
from .readers import Measurements as Measurements
from .readers import read_measurements as read_measurements

__all__ = ["CALIBRATION_SCHEMA_VERSION", "Calibration", "Measurements", "load_calibration", "read_measurements",
           "write_calibration", "calibrate"]


def calibrate(directory, hardware=None, date=None, use_measured_ceilings=False):
    """Read ``directory``, fit, and return a :class:`Calibration` (see :func:`.api.calibrate`)."""
    from .api import calibrate as _calibrate  # noqa: PLC0415 - SciPy only when fitting

    return _calibrate(directory, hardware=hardware, date=date, use_measured_ceilings=use_measured_ceilings)
