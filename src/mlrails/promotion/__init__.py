"""Promotion: the gate, the promotion and rollback rails, and operator commands."""
