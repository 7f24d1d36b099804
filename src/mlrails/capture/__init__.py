"""Capture: what inference served, as the records drift, performance and feedback read."""
