"""The project config: one file describes the model project, validated on load.

The CDK app and the local runtime both call :func:`load_config`; deployed functions read
the same validated document as JSON from S3 (:func:`ProjectConfig.model_validate_json`).
Every validation error names the field it is about, e.g.
``monitoring.psi_threshold: Input should be greater than 0``.
"""

from mlrails.config.environments import (
    LAMBDA_DEFAULT_CONCURRENCY,
    PRODUCTION_ENVIRONMENTS,
    RELEASE_ENVIRONMENTS,
    Acknowledgements,
    AlarmThresholds,
    Environment,
    ModelSource,
    ReservedConcurrency,
)
from mlrails.config.project import ConfigWarning, ProjectConfig, load_config, parse_config
from mlrails.config.release import Release
from mlrails.config.sections import (
    ARRIVED_AT,
    FARGATE_SIZES,
    NUMERIC_ONLY_TESTS,
    Batch,
    Capture,
    Dataset,
    FargateTask,
    Feature,
    MaxRetrains,
    Model,
    Monitoring,
    Performance,
    Promotion,
    Retraining,
    Serving,
    Training,
    UseCase,
    Value,
)

__all__ = [
    "ARRIVED_AT",
    "FARGATE_SIZES",
    "LAMBDA_DEFAULT_CONCURRENCY",
    "NUMERIC_ONLY_TESTS",
    "PRODUCTION_ENVIRONMENTS",
    "RELEASE_ENVIRONMENTS",
    "Acknowledgements",
    "AlarmThresholds",
    "Batch",
    "Capture",
    "ConfigWarning",
    "Dataset",
    "Environment",
    "FargateTask",
    "Feature",
    "MaxRetrains",
    "Model",
    "ModelSource",
    "Monitoring",
    "Performance",
    "ProjectConfig",
    "Promotion",
    "Release",
    "ReservedConcurrency",
    "Retraining",
    "Serving",
    "Training",
    "UseCase",
    "Value",
    "load_config",
    "parse_config",
]
