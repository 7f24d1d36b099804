"""The performance check in the Service stack: a function on its own schedule, with retries
and a dead-letter queue (its grants are in test_least_privilege.py)."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template

from mlrails import wiring
from mlrails.config import ProjectConfig


def _function_id(template: Template) -> str:
    spec = wiring.function("performance_check")
    (found,) = template.find_resources("AWS::Lambda::Function", {"Properties": {"Description": spec.description}})
    return found


def test_the_function_runs_with_the_shared_and_data_layers(service_template: Template) -> None:
    spec = wiring.function("performance_check")
    service_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": spec.description,
            "Handler": "handler.lambda_handler",
            "Runtime": "python3.12",
            "MemorySize": spec.memory_mb,
            "Timeout": spec.timeout_seconds,
            "TracingConfig": {"Mode": "Active"},
        },
    )
    function = service_template.find_resources("AWS::Lambda::Function")[_function_id(service_template)]
    assert len(function["Properties"]["Layers"]) == len(spec.layers) == 2


def test_its_schedule_follows_monitoring_performance(service_template: Template, cfg: ProjectConfig) -> None:
    function_id = _function_id(service_template)
    service_template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": cfg.monitoring.performance.schedule,
            "Target": Match.object_like(
                {
                    "Arn": {"Fn::GetAtt": [function_id, "Arn"]},
                    "Input": Match.serialized_json(
                        {
                            "schedule": "PerformanceCheck",
                            "scheduled_time": wiring.SCHEDULED_TIME,
                            "execution_id": wiring.EXECUTION_ID,
                        }
                    ),
                    "DeadLetterConfig": {"Arn": Match.any_value()},
                }
            ),
        },
    )


def test_a_failed_check_is_retried_then_dead_lettered(service_template: Template) -> None:
    service_template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": _function_id(service_template)},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
        },
    )
