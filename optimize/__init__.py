"""inferonomics.optimize: SciPy-based deployment search, calibration and the CLI."""
