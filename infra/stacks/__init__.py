"""Stacks compose constructs and grant between them; nothing else."""
