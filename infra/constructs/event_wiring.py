"""Routes and schedules, built from :data:`mlrails.wiring.ROUTES` and
:data:`mlrails.wiring.SCHEDULES` — the same objects the local runtime turns into moto rules
and virtual-clock timers, so what runs locally is what deploys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from infra.constructs.pipeline_function import PipelineFunction
from infra.support.nag import acknowledge_resource_wildcard
from mlrails import wiring
from mlrails.config import ProjectConfig

TARGET_RETRY_ATTEMPTS = 3
TARGET_MAX_EVENT_AGE = Duration.hours(6)

# EventBridge pattern fields → events.EventPattern keyword arguments.
_PATTERN_FIELDS = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "account": "account",
    "region": "region",
    "resources": "resources",
    "id": "id",
    "time": "time",
    "version": "version",
}


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """A wiring pattern (EventBridge JSON) as a CDK ``EventPattern``."""
    unknown = sorted(set(pattern) - set(_PATTERN_FIELDS))
    if unknown:
        raise ValueError(f"event pattern fields not supported: {unknown}")
    return events.EventPattern(**{_PATTERN_FIELDS[key]: value for key, value in pattern.items()})


class EventWiring(Construct):
    """One rule per route (``rules[name]``) and one schedule per enabled schedule spec."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        names: wiring.ResourceNames,
        project_bus: events.IEventBus,
        functions: Mapping[str, PipelineFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        buses: dict[str, events.IEventBus | None] = {"default": None, "project": project_bus}

        self.rules: dict[str, events.Rule] = {}
        for route in wiring.ROUTES:
            target = functions[route.target]
            self.rules[route.name] = events.Rule(
                self,
                route.name,
                description=route.description,
                event_bus=buses[route.bus],
                event_pattern=event_pattern(route.pattern(names)),
                targets=[
                    targets.LambdaFunction(
                        target.function,
                        dead_letter_queue=target.dead_letter_queue,
                        retry_attempts=TARGET_RETRY_ATTEMPTS,
                        max_event_age=TARGET_MAX_EVENT_AGE,
                    )
                ],
            )

        self.schedules: dict[str, scheduler.Schedule] = {}
        for spec in wiring.SCHEDULES:
            if not spec.enabled(cfg):
                continue
            target = functions[spec.target]
            # Our own role (not the shared one CDK would make) so that its one finding can be
            # acknowledged right here.
            role = iam.Role(
                self,
                f"{spec.name}Role",
                assumed_by=iam.ServicePrincipal(
                    "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
                ),
                description=f"EventBridge Scheduler: {spec.name} invokes {spec.target}",
            )
            acknowledge_resource_wildcard(
                role,
                f"{target.function.function_arn}:*",
                f"Invokes {spec.target} only; CDK's invoke grant covers the function's versions and aliases.",
            )
            self.schedules[spec.name] = scheduler.Schedule(
                self,
                spec.name,
                description=f"{spec.name}: invokes {spec.target}",
                schedule=scheduler.ScheduleExpression.expression(spec.expression(cfg)),
                target=scheduler_targets.LambdaInvoke(
                    target.function,
                    input=scheduler.ScheduleTargetInput.from_object(dict(spec.payload)),
                    dead_letter_queue=target.dead_letter_queue,
                    retry_attempts=TARGET_RETRY_ATTEMPTS,
                    max_event_age=TARGET_MAX_EVENT_AGE,
                    role=role,
                ),
            )
