"""Code and document exporters for closed-form records."""
