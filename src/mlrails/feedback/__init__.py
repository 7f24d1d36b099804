"""Feedback: labels in, labels joined to predictions, labelled traffic as training rows."""
