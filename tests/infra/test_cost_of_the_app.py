"""The cost model on the example config's real templates (the session's one synthesis): every
resource of every stage is priced, free with a reason, or listed as not priced, and the idle
figure is reported (bench/cost.py prints it; the docs' Cost page quotes it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mlrails.config import ProjectConfig
from mlrails.cost.assembly import shared_stacks, stage_stacks
from mlrails.cost.idle import idle_cost
from mlrails.cost.report import environment_cost

if TYPE_CHECKING:  # the session fixture's type (tests/support/synth.py)
    from support.synth import Synthesized


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_resource_of_the_stage_is_accounted_for(
    synthesized: Synthesized, cfg: ProjectConfig, environment: str, record_property
) -> None:
    report = environment_cost(synthesized.outdir, environment, sample_rate=cfg.capture.sample_rate)
    stacks = stage_stacks(synthesized.outdir, environment)
    resources = {(stack.name, logical_id) for stack in stacks for logical_id in stack.resources}
    priced = {(item.stack, item.logical_id) for item in report.idle.items}
    free = sum(count for count, _ in report.idle.free.values())
    assert len(priced) + free + len(report.idle.not_priced) == len(resources)
    assert report.idle.not_priced == []  # a new billed type needs a price (or a reason it is free)
    assert report.idle.monthly_usd == pytest.approx(sum(item.monthly_usd for item in report.idle.items))
    assert report.training_run is not None and report.training_run.usd > 0
    assert report.million_predictions is not None and report.million_predictions.usd > 0
    record_property("idle_usd_month", round(report.idle.monthly_usd, 2))
    print(f"{environment}: idle ${report.idle.monthly_usd:.2f}/month")  # the figure, with -s


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_no_interface_endpoint_is_billed_while_idle(synthesized: Synthesized, environment: str) -> None:
    """The train function's events go through the outbox in S3, not an EventBridge endpoint:
    nothing in the VPC is billed per AZ-hour. (How an endpoint would be billed, per AZ it sits
    in: tests/unit/test_cost_model.py.)"""
    stacks = stage_stacks(synthesized.outdir, environment)
    interfaces = [
        logical_id
        for stack in stacks
        for logical_id, props in stack.of_type("AWS::EC2::VPCEndpoint")
        if props.get("VpcEndpointType") == "Interface"
    ]
    assert interfaces == []
    assert [item for item in idle_cost(stacks).items if item.price == "vpc_interface_endpoint_az_hour"] == []


IDLE_TARGET_USD = 10  # a month, per environment, storage excluded (docs/cost.md)


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_an_idle_environment_costs_under_ten_dollars_and_mlflow_is_paid_per_run(
    synthesized: Synthesized, cfg: ProjectConfig, environment: str
) -> None:
    report = environment_cost(synthesized.outdir, environment, sample_rate=cfg.capture.sample_rate)
    assert report.idle.monthly_usd < IDLE_TARGET_USD, [(i.logical_id, i.monthly_usd) for i in report.idle.items]
    # Nothing of MLflow runs idle (docs/concepts/tracking.md): no Fargate hour, no public address...
    assert not [item for item in report.idle.items if item.price.startswith(("fargate_", "public_ipv4"))]
    # ...but a run pays its task from its start to the release.
    held = [charge for charge in report.training_run.charges if charge.what == "MLflow's task, held for the run"]
    assert {charge.price for charge in held} == {"fargate_x86_vcpu_hour", "fargate_x86_gb_hour"}


def test_the_release_pipeline_is_priced_once_apart_from_the_stages(synthesized: Synthesized) -> None:
    shared = idle_cost(shared_stacks(synthesized.outdir))
    assert shared.not_priced == []
    assert {stack.name for stack in shared_stacks(synthesized.outdir)} == {"Pipeline"}
