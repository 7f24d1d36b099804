"""What use costs, from the same templates: one training run (the training state machine's
steps, each for an assumed duration) and a million predictions (API Gateway, the inference
function at its memory, capture through Firehose, traces and logs). The durations and sizes
are assumptions the caller can replace; each estimate lists the ones it used."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlrails.cost.assembly import Stack, referenced, references, state_machine_definition, target
from mlrails.cost.idle import fargate_usage
from mlrails.cost.prices import PRICES

GB = 2**30
# A state's duration when the caller gives none (seconds), by state name (lower case): the
# example's train step (image start, mlflow, a fit on three weeks of features, the profile),
# its evaluate step (both models on the holdout) and its finish (ONNX compile, verify, manifest).
DEFAULT_STEP_SECONDS: dict[str, float] = {
    "train": 300,
    "evaluate": 60,
    "finish": 60,
    # The tracking switch's calls: a second each (the hold's retries while MLflow starts, too).
    "holdtracking": 1,
    "releasetracking": 1,
}
# MLflow held from zero (mlrails.tracking): its task starts (image pull, database resume)
# before the first step and runs the whole run.
TRACKING_START_SECONDS = 90
FALLBACK_STEP_SECONDS = 60.0
# bench/inference.py, in-process, one row, ONNX, capture on (docs/api.md): 1.06 ms at p50.
# Lambda bills whole milliseconds, so a request bills 2 ms.
DEFAULT_REQUEST_MS = 1.06
DEFAULT_CAPTURE_BYTES = 1024  # a capture record of the example (5 features, id, time, prediction)
# Lambda's START/END/REPORT lines, the handler's own line and API Gateway's access log line.
DEFAULT_LOG_BYTES = 900
# X-Ray's default sampling rule traces the first request each second and 5% of the rest:
# below about one request a second, that is every request.
DEFAULT_TRACED_SHARE = 1.0
_AURORA_AWAKE_ACU = 0.5  # the least a resumed Serverless v2 instance runs at


@dataclass(frozen=True)
class Charge:
    """``quantity`` of a price of the table, for ``what``."""

    what: str
    price: str
    quantity: float
    note: str = ""

    @property
    def usd(self) -> float:
        return self.quantity * PRICES[self.price].usd


@dataclass(frozen=True)
class Estimate:
    """A priced use: its charges and the assumptions they rest on."""

    charges: list[Charge]
    assumptions: dict[str, str] = field(default_factory=dict)

    @property
    def usd(self) -> float:
        return sum(charge.usd for charge in self.charges)


def _find(stacks: Iterable[Stack], logical_id: str) -> tuple[Stack, dict[str, Any]] | None:
    for stack in stacks:
        if logical_id in stack.resources:
            return stack, stack.resources[logical_id]
    return None


def _function_behind(stacks: list[Stack], value: Any) -> dict[str, Any] | None:
    """The Lambda function ``value`` names, through an alias or a version if need be."""
    for logical_id in sorted(references(value)) + ([referenced(value)] if referenced(value) else []):
        found = _find(stacks, logical_id)
        if found is None:
            continue
        _, resource = found
        if resource["Type"] == "AWS::Lambda::Function":
            return resource.get("Properties", {})
        if resource["Type"] in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            return _function_behind(stacks, resource["Properties"].get("FunctionName"))
    return None


def _gb_second_price(function: Mapping[str, Any]) -> str:
    return "lambda_arm_gb_second" if "arm64" in function.get("Architectures", []) else "lambda_x86_gb_second"


def _happy_path(definition: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The states a successful run enters, in order (a Choice follows its default)."""
    states, name, seen = definition.get("States", {}), definition.get("StartAt"), set()
    while name in states and name not in seen:
        seen.add(name)
        state = states[name]
        yield name, state
        name = None if state.get("End") else state.get("Next", state.get("Default"))


def _training_definition(stacks: list[Stack]) -> dict[str, Any] | None:
    for stack in stacks:
        for _, props in stack.of_type("AWS::StepFunctions::StateMachine"):
            definition = state_machine_definition(props)
            if any(name.lower() == "train" for name, _ in _happy_path(definition)):
                return definition
    return None


def _aurora_wake(stacks: list[Stack], run_seconds: float) -> Charge | None:
    """A run's MLflow calls wake a paused database, which then runs until it pauses again."""
    for stack in stacks:
        for _, props in stack.of_type("AWS::RDS::DBInstance"):
            cluster = stack.properties(target(props.get("DBClusterIdentifier")))
            scaling = cluster.get("ServerlessV2ScalingConfiguration", {})
            if props.get("DBInstanceClass") == "db.serverless" and float(scaling.get("MinCapacity", 0.5)) == 0:
                pause = scaling.get("SecondsUntilAutoPause", 300)
                hours = (run_seconds + pause) / 3600
                return Charge(
                    "MLflow's database, awake for the run and until it pauses",
                    "aurora_serverless_v2_acu_hour",
                    _AURORA_AWAKE_ACU * hours,
                    f"{_AURORA_AWAKE_ACU} ACU × (run + {pause / 60:g} min)",
                )
    return None


def training_run(stacks: list[Stack], step_seconds: Mapping[str, float] | None = None) -> Estimate | None:
    """One successful run of the training state machine (the one with a ``Train`` state), each
    task state for ``step_seconds[name]`` (default: ``DEFAULT_STEP_SECONDS``); None when the
    templates hold no such state machine."""
    definition = _training_definition(stacks)
    if definition is None:
        return None
    durations = {**DEFAULT_STEP_SECONDS, **{name.lower(): s for name, s in (step_seconds or {}).items()}}
    charges: list[Charge] = []
    used: dict[str, str] = {}
    path = list(_happy_path(definition))
    run_seconds, invocations = 0.0, 0
    for name, state in path:
        if state.get("Type") != "Task":
            continue
        resource, parameters = state.get("Resource", ""), state.get("Parameters", {})
        seconds = durations.get(name.lower(), FALLBACK_STEP_SECONDS)
        if ":ecs:runTask" in resource:
            found = _find(stacks, referenced(parameters.get("TaskDefinition", "")) or "")
            task = found[1].get("Properties", {}) if found else {}
            billed = max(seconds, 60)  # Fargate bills a minute at least
            for price, quantity, note in fargate_usage(task, billed / 3600):
                charges.append(Charge(f"{name}: Fargate task", price, quantity, note))
        else:
            function = _function_behind(stacks, parameters.get("FunctionName", resource))
            if function is None:
                continue  # a service integration (the failure path's putEvents): no compute
            memory_gb = function.get("MemorySize", 128) / 1024
            charges.append(
                Charge(
                    f"{name}: Lambda",
                    _gb_second_price(function),
                    memory_gb * seconds,
                    f"{memory_gb:g} GB × {seconds:g} s",
                )
            )
            invocations += 1
        used[f"{name} seconds"] = f"{seconds:g}"
        run_seconds += seconds
    if invocations:
        charges.append(Charge("Lambda requests", "lambda_requests_million", invocations / 1e6))
    charges.append(Charge("state transitions", "step_functions_standard_1k", len(path) / 1000, f"{len(path)} states"))
    charges += _tracking_for_run(stacks, run_seconds)
    wake = _aurora_wake(stacks, run_seconds)
    if wake is not None:
        charges.append(wake)
    return Estimate(charges, used)


def _tracking_for_run(stacks: list[Stack], run_seconds: float) -> list[Charge]:
    """The MLflow server a run holds: a service deployed with no task (on demand) runs one
    from before the first step to the release, with its public address."""
    hours = (run_seconds + TRACKING_START_SECONDS) / 3600
    charges = []
    for stack in stacks:
        for _, props in stack.of_type("AWS::ECS::Service"):
            if props.get("DesiredCount", 1) != 0:
                continue  # always on: priced idle
            task = stack.properties(target(props.get("TaskDefinition")))
            for price, quantity, note in fargate_usage(task, hours):
                charges.append(Charge("MLflow's task, held for the run", price, quantity, note))
            if props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {}).get("AssignPublicIp") == "ENABLED":
                charges.append(Charge("MLflow's task's public address", "public_ipv4_hour", hours))
    return charges


def _inference_function(stacks: list[Stack]) -> dict[str, Any] | None:
    """The function behind ``POST /invocations``."""
    for stack in stacks:
        paths = {
            logical_id
            for logical_id, props in stack.of_type("AWS::ApiGateway::Resource")
            if props.get("PathPart") == "invocations"
        }
        for _, method in stack.of_type("AWS::ApiGateway::Method"):
            if target(method.get("ResourceId")) in paths and method.get("HttpMethod") == "POST":
                return _function_behind(stacks, method.get("Integration", {}).get("Uri"))
    return None


def million_predictions(
    stacks: list[Stack],
    *,
    sample_rate: float,
    request_ms: float = DEFAULT_REQUEST_MS,
    capture_bytes: int = DEFAULT_CAPTURE_BYTES,
    log_bytes: int = DEFAULT_LOG_BYTES,
    traced_share: float = DEFAULT_TRACED_SHARE,
) -> Estimate | None:
    """A million ``POST /invocations`` of one row each; None without such a route."""
    function = _inference_function(stacks)
    if function is None:
        return None
    requests = 1e6
    memory_gb = function.get("MemorySize", 128) / 1024
    billed_ms = max(math.ceil(request_ms), 1)
    charges = [
        Charge("API Gateway requests", "api_gateway_rest_million", requests / 1e6),
        Charge("inference requests", "lambda_requests_million", requests / 1e6),
        Charge(
            "inference duration",
            _gb_second_price(function),
            requests * memory_gb * billed_ms / 1000,
            f"{memory_gb:g} GB × {billed_ms} ms billed",
        ),
    ]
    records = requests * sample_rate
    for stack in stacks:
        for _, stream in stack.of_type("AWS::KinesisFirehose::DeliveryStream"):
            billed_bytes = math.ceil(capture_bytes / 5120) * 5120  # each record bills 5 KB at least
            charges.append(
                Charge(
                    "capture ingestion",
                    "firehose_gb",
                    records * billed_bytes / GB,
                    f"{records:,.0f} records × 5 KB billed",
                )
            )
            destination = stream.get("ExtendedS3DestinationConfiguration", {})
            if destination.get("DynamicPartitioningConfiguration", {}).get("Enabled"):
                charges.append(Charge("capture partitioning", "firehose_partitioning_gb", records * capture_bytes / GB))
    traced = function.get("TracingConfig", {}).get("Mode") == "Active" or any(
        props.get("TracingEnabled") for stack in stacks for _, props in stack.of_type("AWS::ApiGateway::Stage")
    )
    if traced:
        charges.append(Charge("X-Ray traces", "xray_traces_million", requests * traced_share / 1e6))
    charges.append(Charge("logs", "logs_ingestion_gb", requests * log_bytes / GB))
    assumptions = {
        "request duration": f"{request_ms:g} ms (billed {billed_ms} ms)",
        "capture record": f"{capture_bytes} bytes at sample rate {sample_rate:g}",
        "log bytes per request": str(log_bytes),
    }
    if traced:
        assumptions["traced share"] = f"{traced_share:g}"
    return Estimate(charges, assumptions)
