"""inferonomics.symbolic: the symbolic serving model (SymPy only; never SciPy, never optimize)."""
