"""Serving: the request protocol, the champion and its artifacts, predictors, capture, the API document."""
