"""Measurement readers, the calibration fit and validation against real silicon."""
