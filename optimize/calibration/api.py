"""Calibrate end to end: read a measurement directory, fit, and package a :class:`Calibration`."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from inferonomics.optimize.calibration.calfile import CALIBRATION_SCHEMA_VERSION, Calibration, Parameter, SourceFile
from inferonomics.optimize.calibration.fit import fit
from inferonomics.optimize.calibration.readers import Measurements, read_measurements, relative_name


def _date_of(meas: Measurements, date: str | None) -> str:
    if date:
        return date
    return _dt.date.today().isoformat()


def calibrate(directory: str | Path | Measurements, hardware: str | None = None,
              date: str | None = None, use_measured_ceilings: bool = False,
              prior: Calibration | None = None) -> Calibration:
    """Fit the calibration terms on ``directory`` (a path or read :class:`Measurements`), each stage starting
    from ``prior``'s values when given (another card's fit); stages the data lack keep them."""
    meas = directory if isinstance(directory, Measurements) else read_measurements(directory)
    kwargs: dict = {"use_measured_ceilings": True} if use_measured_ceilings else {}
    if prior is not None:
        kwargs["prior"] = (prior.hardware, prior.values)
        kwargs["prior_intervals"] = prior.intervals
        kwargs["prior_trends"] = prior.interval_trends
    result = fit(meas, hardware, **kwargs)
    sources = tuple(SourceFile(relative_name(f.path, meas.root), f.sha256, f.rows)
                    for f in _files_of(meas, result.hardware))
    params = {k: Parameter(v, result.uncertainties[k]) for k, v in result.values.items()}
    return Calibration(CALIBRATION_SCHEMA_VERSION, result.hardware, _date_of(meas, date), result.converged,
                       params, sources, result.quality, result.message,
                       "measured" if use_measured_ceilings and meas.ceilings_for(result.hardware) else "datasheet",
                       dict(result.unconstrained), dict(result.intervals),
                       dict(result.interval_trends))


def _files_of(meas: Measurements, hardware: str) -> list:
    """The files the fit of ``hardware`` read: its tables' files, and the ceilings when they are that card's
    (another card's files in the same directory are no provenance of this calibration)."""
    paths = {t.path for t in meas.tables if t.hardware == hardware}
    ceilings = bool(meas.ceilings_for(hardware))
    return [f for f in meas.files if f.path in paths or (ceilings and Path(f.path).name == "ceilings.csv")]
