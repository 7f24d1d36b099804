"""Drift: the reference profile, the measures, the report and the scheduled check."""
