"""training.compute and training.fargate: sizes Fargate offers (named errors otherwise), and
the auto rule as a pure function: which engine a run gets from its window's bytes."""

import pytest

from mlrails.config import FARGATE_SIZES, parse_config
from mlrails.errors import ConfigError
from mlrails.training.compute import IN_MEMORY_EXPANSION, choose, window_partitions

MB = 2**20


def _with_training(cfg, **training) -> dict:
    document = cfg.model_dump(mode="json")
    document["training"] = {**document["training"], **training}
    return document


def test_the_example_trains_on_lambda_by_default(cfg):
    assert cfg.training.compute == "lambda"


@pytest.mark.parametrize(
    ("cpu", "memory_mb"), [(256, 512), (256, 2048), (1024, 8192), (4096, 30720), (8192, 61440), (16384, 122880)]
)
def test_every_size_fargate_offers_is_accepted(cfg, cpu, memory_mb):
    parsed = parse_config(_with_training(cfg, compute="fargate", fargate={"cpu": cpu, "memory_mb": memory_mb}))
    assert (parsed.training.fargate.cpu, parsed.training.fargate.memory_mb) == (cpu, memory_mb)


@pytest.mark.parametrize(
    ("fargate", "message"),
    [
        ({"cpu": 3000}, r"training\.fargate.*cpu: Fargate offers \[256, 512"),
        ({"cpu": 256, "memory_mb": 4096}, r"training\.fargate.*memory_mb: with cpu 256 Fargate offers 512 to 2048"),
        # 8 vCPU: 16 to 60 GB in 4 GB steps, so 17 GB is no size.
        ({"cpu": 8192, "memory_mb": 17408}, r"memory_mb: with cpu 8192 Fargate offers 16384 to 61440"),
        ({"ephemeral_storage_gib": 201}, r"training\.fargate\.ephemeral_storage_gib"),
        ({"ephemeral_storage_gib": 20}, r"training\.fargate\.ephemeral_storage_gib"),
    ],
)
def test_a_size_fargate_does_not_offer_is_refused_by_name(cfg, fargate, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_with_training(cfg, compute="fargate", fargate=fargate))


def test_the_size_table_is_fargates():
    assert FARGATE_SIZES[512] == (1024, 2048, 3072, 4096)
    assert FARGATE_SIZES[16384][0] == 32768 and FARGATE_SIZES[16384][-1] == 122880
    assert len(FARGATE_SIZES[8192]) == 12  # 16, 20, ..., 60 GB


def test_an_unknown_engine_is_refused(cfg):
    with pytest.raises(ConfigError, match=r"training\.compute"):
        parse_config(_with_training(cfg, compute="sagemaker"))


def test_configured_engines_are_kept_whatever_the_size():
    assert choose("lambda", 10**12, 3008) == "lambda"
    assert choose("fargate", 0, 3008) == "fargate"


def test_auto_moves_to_fargate_when_the_window_would_not_fit_in_the_functions_memory():
    threshold = 3008 * MB // IN_MEMORY_EXPANSION  # about 300 MB of Parquet for a 3008 MB function
    assert choose("auto", threshold, 3008) == "lambda"
    assert choose("auto", threshold + 1, 3008) == "fargate"
    assert choose("auto", 0, 3008) == "lambda"
    assert choose("auto", threshold + 1, 10240) == "lambda"  # a bigger function holds more


def test_auto_sizes_only_the_partitions_the_run_reads():
    listed = [
        "features/date=2026-03-01/",
        "features/date=2026-03-09/",
        "features/date=2026-03-10/",
        "features/legacy.parquet",  # before partitions: always read
    ]
    assert window_partitions(listed, None) == listed
    assert window_partitions(listed, 1) == listed[1:]
    assert window_partitions(["features/legacy.parquet"], 1) == ["features/legacy.parquet"]
