"""The business value of a model score: one contract for the feasibility check (is the use
case worth it at the quick model's score?) and the performance check (what is the serving
model worth on the labelled traffic?). Pure and free of scikit-learn, so the performance
check's function can load it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mlrails.config import ProjectConfig, Promotion
from mlrails.errors import ConfigError


def business_value(cfg: ProjectConfig) -> Callable[[float], float] | None:
    """The configured value of a ``value.metric`` score: linear (``value_per_point`` per
    0.01 beyond ``minimum``), a ``module:function(score) -> float``, or None when the config
    gives neither."""
    value = cfg.value
    if value.function:
        module, _, name = value.function.partition(":")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"value.function {value.function!r} cannot be imported: {exc}") from exc
    if value.value_per_point is not None and value.minimum is not None:
        direction = 1 if Promotion.direction(cfg.value_metric) == "maximize" else -1
        return lambda score: value.value_per_point * direction * (score - value.minimum) / 0.01
    return None
