"""The release: section: what it defaults to, and the configs it refuses, each error naming the
field to change."""

from __future__ import annotations

from typing import Any

import pytest

from mlrails.config import ProjectConfig, parse_config
from mlrails.errors import ConfigError

ACCOUNT, OTHER = "123456789012", "210987654321"


def _with(cfg: ProjectConfig, release: dict[str, Any], **environments: dict[str, Any]) -> dict:
    document = cfg.model_dump(mode="json")
    document["release"] = {**document["release"], **release}
    for name, fields in environments.items():
        document["environments"][name] = {**document["environments"][name], **fields}
    return document


def test_the_example_releases_every_environment_in_order_with_a_person_before_prod(cfg: ProjectConfig) -> None:
    assert cfg.release is not None
    assert cfg.release_stages == ["dev", "staging", "prod"]
    assert cfg.release_approvals == ["prod"]
    assert cfg.release_store == cfg.release.store_bucket
    assert cfg.release_canary == "CANARY_10PERCENT_5MINUTES"
    assert [cfg.models_source(name) for name in cfg.release_stages] == ["train", "release", "release"]


def test_the_store_is_named_from_the_pipelines_account_and_region_when_not_given(cfg: ProjectConfig) -> None:
    document = _with(cfg, {"store_bucket": None, "account": ACCOUNT, "region": "eu-west-1"})
    assert parse_config(document).release_store == f"mlrails-churn-release-{ACCOUNT}-eu-west-1"
    with pytest.raises(ConfigError, match=r"release\.store_bucket: name the release store"):
        parse_config(_with(cfg, {"store_bucket": None}))


@pytest.mark.parametrize(
    ("release", "message"),
    [
        ({"stages": ["dev", "qa"]}, r"release: \['qa'\] not among the environments"),
        ({"approval_before": ["production"]}, r"release: \['production'\] not among the environments"),
        ({"stages": ["dev", "staging"], "approval_before": ["prod"]}, r"release\.approval_before: each must be one"),
        ({"canary": "CANARY_50PERCENT_1MINUTE"}, r"release\.canary"),
        ({"repository": "churn"}, r"release\.repository"),
        ({"connection_arn": "arn:aws:s3:::not-a-connection"}, r"release\.connection_arn"),
    ],
)
def test_a_release_section_that_names_what_is_not_there_is_refused(
    cfg: ProjectConfig, release: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(_with(cfg, release))


def test_an_environment_in_its_own_account_needs_the_pipelines_account_named(cfg: ProjectConfig) -> None:
    """Its stacks trust the pipeline's account and read its release store: the CLI's default
    account, which the synth cannot know, will not do."""
    with pytest.raises(ConfigError, match=rf"release\.account: environments\.prod deploys to account {ACCOUNT}"):
        parse_config(_with(cfg, {}, prod={"account": ACCOUNT}))
    parse_config(_with(cfg, {"account": OTHER}, prod={"account": ACCOUNT}))


def test_every_environment_deploys_to_the_release_stores_region(cfg: ProjectConfig) -> None:
    """The train function reaches the store through its VPC's S3 gateway endpoint, which serves
    buckets of its own region only (there is no NAT)."""
    with pytest.raises(ConfigError, match=r"environments\.prod\.region: the release store is in the pipeline's region"):
        parse_config(_with(cfg, {"region": "eu-west-1"}, prod={"region": "us-east-1"}))
    with pytest.raises(ConfigError, match=r"environments\.dev\.region: .*unset, the CLI default"):
        parse_config(_with(cfg, {}, dev={"region": "eu-west-1"}))
    parse_config(_with(cfg, {"region": "eu-west-1"}, prod={"region": "eu-west-1"}))


def test_without_a_release_section_nothing_is_released(cfg: ProjectConfig) -> None:
    document = cfg.model_dump(mode="json")
    document["release"] = None
    document["environments"]["prod"]["account"] = ACCOUNT
    plain = parse_config(document)
    assert (plain.release_stages, plain.release_approvals, plain.release_store) == ([], [], None)
    # A models: release environment still rolls a new inference version out as a canary.
    assert plain.release_canary == "CANARY_10PERCENT_5MINUTES"
