"""The API's per-environment settings: CORS origins (validated, off by default, handed to the
inference function only when set) and the usage plan's daily quota."""

import pytest

from mlrails.config import parse_config
from mlrails.errors import ConfigError
from mlrails.settings import cors_origins
from mlrails.wiring import FUNCTIONS, ResourceNames, function_environment

NAMES = ResourceNames("data", "artifacts", "bus", "table", "capture")


def _with_dev(cfg, **dev) -> dict:
    document = cfg.model_dump(mode="json")
    document["environments"]["dev"].update(dev)
    return document


def test_cors_is_off_and_the_quota_set_by_default(cfg):
    assert all(env.cors_origins == [] and env.daily_quota > 0 for env in cfg.environments.values())
    assert "MLRAILS_CORS_ORIGINS" not in function_environment(cfg, "dev", NAMES, FUNCTIONS[0])


@pytest.mark.parametrize("origin", ["*", "https://app.example.com/", "app.example.com", "https://a.com/path"])
def test_an_origin_is_a_scheme_and_host_only(cfg, origin):
    with pytest.raises(ConfigError) as error:
        parse_config(_with_dev(cfg, cors_origins=[origin]))
    assert "environments.dev.cors_origins.0" in str(error.value)


def test_configured_origins_reach_the_functions(cfg):
    changed = parse_config(_with_dev(cfg, cors_origins=["https://app.example.com", "http://localhost:3000"]))

    env = function_environment(changed, "dev", NAMES, FUNCTIONS[0])

    assert cors_origins(env) == ("https://app.example.com", "http://localhost:3000")
    assert cors_origins({}) == ()
