"""The error hierarchy: each error knows its HTTP status and machine-readable code.

Handlers map :class:`MlrailsError` once (see ``functions/inference``); nothing maps by
message text.
"""

from __future__ import annotations

from typing import Any


class MlrailsError(Exception):
    """Base of every error the kit raises on purpose."""

    status = 500
    error_code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        """The JSON body an API caller receives."""
        return {"error_code": self.error_code, "message": self.message, "details": self.details}


class ConfigError(MlrailsError):
    """The project config or a function's settings are missing or invalid."""

    error_code = "CONFIG_ERROR"


class NotDeployed(ConfigError):
    """The environment a command names has not been deployed (or not where the caller looks)."""


class BadRequest(MlrailsError):
    """The request cannot be parsed or does not match the model's input schema."""

    status = 400
    error_code = "BAD_REQUEST"


class InvalidValue(BadRequest):
    """A value its column cannot take. ``problem`` says how, in a word a batch job counts
    refused rows by: ``missing``, ``not_a_number``, ``not_finite``, ``not_a_category``, ``too_long``."""

    def __init__(self, message: str, *, problem: str, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.problem = problem


class UnsupportedMediaType(BadRequest):
    status = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"


class PayloadTooLarge(BadRequest):
    status = 413
    error_code = "PAYLOAD_TOO_LARGE"


class Forbidden(MlrailsError):
    """The request came with a credential that may not do this (feedback through the
    scoring API, or with no credential at all)."""

    status = 403
    error_code = "FORBIDDEN"


class FeedbackRefused(MlrailsError):
    """Some feedback items were refused (``details.refused``: index, reason, message); the
    others were stored (``details.accepted``)."""

    status = 422
    error_code = "FEEDBACK_REFUSED"


class RouteNotFound(MlrailsError):
    """No route of the API has this method and path (API Gateway answers these itself; the
    local server passes them on)."""

    status = 404
    error_code = "NOT_FOUND"


class ModelNotReady(MlrailsError):
    """No champion has been promoted yet, so there is nothing to serve."""

    status = 503
    error_code = "MODEL_NOT_READY"


class DataFileRejected(MlrailsError):
    """A raw data file failed validation; it is quarantined with this reason."""

    status = 422
    error_code = "DATA_FILE_REJECTED"

    def __init__(self, reason: str, message: str, *, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.reason = reason


class TrainingError(MlrailsError):
    """Training cannot proceed (too little data, a broken entrypoint, ...)."""

    error_code = "TRAINING_ERROR"


class ArtifactError(MlrailsError):
    """A model file or another file a manifest names cannot be loaded. Inference answers 503
    while it has no champion it can load (a loaded one keeps serving)."""

    status = 503
    error_code = "ARTIFACT_ERROR"


class UntrustedArtifact(ArtifactError):
    """A model file holds types outside the trust policy."""

    error_code = "UNTRUSTED_ARTIFACT"


class TamperedArtifact(ArtifactError):
    """A file is not the one its manifest recorded (another sha256 or S3 version, or a file
    the manifest does not name)."""

    error_code = "TAMPERED_ARTIFACT"


class TrackingUnavailable(MlrailsError):
    """The MLflow tracking server did not answer in time (it runs only while held: see
    mlrails.tracking)."""

    status = 503
    error_code = "TRACKING_UNAVAILABLE"


class AwsError(MlrailsError):
    """An AWS service refused or failed a call (``code``: its error code, or the client's
    error class when the call never got an answer). Adapters raise it in place of botocore's
    errors; a 503: the service is not there for the caller right now."""

    status = 503
    error_code = "AWS_ERROR"

    def __init__(self, message: str, *, code: str, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.code = code


class StorageError(AwsError):
    """S3 refused or failed a call."""

    error_code = "STORAGE_ERROR"


class StorageNotFound(StorageError):
    """No such object, version or bucket."""

    status = 404
    error_code = "STORAGE_NOT_FOUND"
