"""Retraining: the policy and the trigger that applies it."""
