import pytest

from mlrails.errors import ConfigError
from mlrails.settings import Settings

ENV = {
    "MLRAILS_ENVIRONMENT": "dev",
    "MLRAILS_CONFIG_URI": "s3://artifacts/config/abc.json",
    "MLRAILS_DATA_BUCKET": "data",
    "MLRAILS_ARTIFACTS_BUCKET": "artifacts",
    "MLRAILS_BUS_NAME": "bus",
    "MLRAILS_STATE_TABLE": "state",
}


def test_reads_every_variable_once():
    settings = Settings.from_env(ENV)
    assert settings.data_bucket == "data"
    assert settings.manifest_ttl_seconds == 60.0
    assert settings.tracking_uri is None


@pytest.mark.parametrize("missing", sorted(ENV))
def test_a_missing_variable_is_named(missing):
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        Settings.from_env(env)


def test_tracking_uri_is_required_where_needed():
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI"):
        Settings.from_env(ENV, needs_tracking=True)


def test_malformed_values_are_named():
    with pytest.raises(ConfigError, match="MLRAILS_MANIFEST_TTL_SECONDS"):
        Settings.from_env({**ENV, "MLRAILS_MANIFEST_TTL_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="MLRAILS_CONFIG_URI"):
        Settings.from_env({**ENV, "MLRAILS_CONFIG_URI": "/tmp/config.json"})
