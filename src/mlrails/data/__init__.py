"""Data in: validated datasets and the raw files feature prep turns into features."""
