"""Event routing with moto doing the matching: every wiring route becomes a rule on the
same bus with the same pattern, targeting one SQS queue per function; draining the queues
invokes the handlers. Schedules come from the virtual clock instead (moto stores
schedules but never fires them), and training runs started on moto's state machine are
run step by step here (moto records executions but cannot invoke Lambda tasks), each step in
the train function or, on the Fargate path, as the training task in a subprocess."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlrails.adapters import s3
from mlrails.adapters.bus import put
from mlrails.adapters.clients import client
from mlrails.events import TrainingFailed, to_entry
from mlrails.local import training_task
from mlrails.local.cloud import LocalCloud
from mlrails.local.delivery import deliver_captures
from mlrails.local.invoker import Invoker
from mlrails.wiring import EXECUTION_ID, ROUTES, SCHEDULED_TIME, SCHEDULES, TRAINING


@dataclass(frozen=True)
class Invocation:
    """One handler run, for the timeline."""

    function: str
    trigger: str  # a detail type, "Object Created", or a schedule name
    event: dict[str, Any]
    result: Any
    error: str | None = None


class Router:
    def __init__(
        self,
        cloud: LocalCloud,
        invoker: Invoker,
        clock: Callable[[], datetime],
        on_invocation: Callable[[Invocation], None] = lambda _: None,
    ) -> None:
        self.cloud, self.invoker, self.clock, self.on_invocation = cloud, invoker, clock, on_invocation
        self.queues: dict[str, str] = {}
        self._runs_seen: set[str] = set()

    def install(self) -> None:
        """Create one queue per target function and the wiring's rules on moto."""
        sqs, events = client("sqs"), client("events")
        for route in ROUTES:
            if route.target not in self.queues:
                self.queues[route.target] = sqs.create_queue(QueueName=f"mlrails-local-{route.target}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=self.queues[route.target], AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
            bus = "default" if route.bus == "default" else self.cloud.names.bus_name
            events.put_rule(
                Name=route.name,
                EventBusName=bus,
                State="ENABLED",
                Description=route.description,
                EventPattern=json.dumps(route.pattern(self.cloud.names)),
            )
            events.put_targets(Rule=route.name, EventBusName=bus, Targets=[{"Id": route.target, "Arn": arn}])

    def fire_schedules(self, names: list[str], at: datetime) -> list[Invocation]:
        """Invoke the targets of the schedules due at ``at`` with their payloads, placeholders
        filled as Scheduler does, then deliver what they cause. All of them start before
        anything they cause runs: on AWS, checks scheduled together run side by side, and a
        performance check at midnight judges the champion of midnight, not the one a
        retraining started by that midnight's drift check promotes minutes later. Captures are
        delivered first: Firehose's buffer interval is far below any schedule's."""
        deliver_captures(self.cloud.names)
        invocations = []
        for name in names:
            spec = next(s for s in SCHEDULES if s.name == name)
            substitutions = {
                SCHEDULED_TIME: at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                EXECUTION_ID: f"local-{name}-{at:%Y%m%dT%H%M}",
            }
            payload = {k: substitutions.get(v, v) for k, v in spec.payload.items()}
            invocations.append(self._invoke(spec.target, name, payload))
        self.drain()
        return invocations

    def drain(self) -> list[Invocation]:
        """Deliver queued events until every queue is empty (events may cause events)."""
        sqs, delivered = client("sqs"), []
        while True:
            batch = []
            for target, url in self.queues.items():
                for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                    event = json.loads(message["Body"])
                    if event.get("source") == "aws.s3":
                        # moto stamps S3 notifications with the wall clock; on the virtual
                        # clock the upload happened "now", and the chain it starts follows.
                        event["time"] = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
                    batch.append((target, event))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if not batch:
                runs = self._run_training() + self._run_drift_fanouts()
                if not runs:
                    return delivered
                delivered.extend(runs)
                continue
            for target, event in sorted(batch, key=lambda item: item[1].get("time", "")):
                delivered.append(self._invoke(target, event.get("detail-type", "event"), event))

    def _run_training(self) -> list[Invocation]:
        """Run the steps of every training execution started since the last look, as the
        state machine would: each step's result joins the state; a failure ends the run
        with TrainingFailed (the state machine's catch)."""
        sfn, invocations = client("stepfunctions"), []
        started = sfn.list_executions(stateMachineArn=self.cloud.state_machine_arn, statusFilter="RUNNING")
        for execution in started["executions"]:
            if execution["executionArn"] in self._runs_seen:
                continue
            self._runs_seen.add(execution["executionArn"])
            state = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
            # The engine retrain_trigger chose (mlrails.training.compute): the train function
            # in this process, or the training task's entrypoint in a process of its own.
            on_fargate = state.get("compute") == "fargate"
            # MLflow is held for the run and released after it, whatever its end (mlrails.tracking).
            holder = TRAINING.tracking_holder(state["request"]["trigger_id"])
            failed = self._hold_tracking(holder, state, invocations)
            for step in TRAINING.steps if failed is None else ():
                event = {"step": step, "state": state}
                invocation = (
                    self._invoke(
                        TRAINING.function,
                        f"{step} step (Fargate task)",
                        event,
                        run=lambda step=step, state=state: training_task.run_step(
                            self.cloud, self.invoker.functions_dir, step, state, self.invoker.log
                        ),
                    )
                    if on_fargate
                    else self._invoke(TRAINING.function, f"{step} step", event)
                )
                invocations.append(invocation)
                if invocation.error:
                    failed = invocation.error
                    break
                state[step] = invocation.result
            invocations.append(
                self._invoke(
                    TRAINING.tracking_function,
                    "run ended",
                    TRAINING.tracking_release(holder, state["time"]),
                )
            )
            if failed is not None:
                request = state["request"]
                error, _, cause = failed.partition(": ")
                training_failed = TrainingFailed(
                    request["model"], request["environment"], request["trigger_id"], error, cause, state["time"]
                )
                # The state machine's own PutEvents (outside the VPC): no outbox.
                put(to_entry(training_failed, self.cloud.names.bus_name, time=datetime.fromisoformat(state["time"])))
        return invocations

    def _run_drift_fanouts(self) -> list[Invocation]:
        """Run every drift fan-out started since the last look, as its state machine would
        (infra/constructs/drift_fanout.py): the item list cut into batches of ``per_shard``
        items as the ItemBatcher cuts it, each counted by the drift_check function's count
        phase (in this process: a shard is a few megabytes here), then the judge phase, unless
        a shard failed, which fails the Map and the execution before any judging."""
        sfn, invocations = client("stepfunctions"), []
        arn = self.cloud.drift_state_machine_arn
        for execution in sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            if execution["executionArn"] in self._runs_seen:
                continue
            self._runs_seen.add(execution["executionArn"])
            state = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
            items = s3.get_json(s3.uri(state["bucket"], state["items_key"]))
            per_shard, prefix = state["per_shard"], state["prefix"]
            for start in range(0, len(items), per_shard):
                event = {"phase": "count", "prefix": prefix, "items": items[start : start + per_shard]}
                invocations.append(self._invoke("drift_check", "drift fan-out: count", event))
                if invocations[-1].error:
                    break
            else:
                invocations.append(
                    self._invoke("drift_check", "drift fan-out: judge", {"phase": "judge", "prefix": prefix})
                )
        return invocations

    def _hold_tracking(self, holder: str, state: dict[str, Any], invocations: list[Invocation]) -> str | None:
        """The state machine's first state: hold MLflow, asking again while its task starts
        (moto runs a scaled service's task at once: locally the first answer is ready).
        Returns the error that ends the run, if any."""
        event = TRAINING.tracking_hold(holder, state["time"])
        for _ in range(TRAINING.tracking_start_attempts):
            invocation = self._invoke(TRAINING.tracking_function, "run started", event)
            invocations.append(invocation)
            if invocation.error is None or not invocation.error.startswith("TrackingStarting"):
                return invocation.error
        return invocation.error

    def _invoke(
        self, target: str, trigger: str, event: dict[str, Any], run: Callable[[], Any] | None = None
    ) -> Invocation:
        """Invoke ``target``'s handler with ``event`` (or call ``run``, which stands for it)."""
        try:
            result = run() if run is not None else self.invoker.invoke(target, event)
            invocation = Invocation(target, trigger, event, result)
        except Exception as exc:
            invocation = Invocation(target, trigger, event, None, f"{type(exc).__name__}: {exc}")
            self.invoker.log.write(traceback.format_exc())
        self.on_invocation(invocation)
        return invocation
