"""The batch function on moto, invoked as the batch state machine invokes it: the plan, one
shard per ItemBatcher batch of items.json, then the summary (after a failed Map too); and
`mlrails batch --env NAME` starting and following a moto state machine whose executions moto
runs (its documented ``execute_state_machine``), printing the summary the phases wrote."""

import itertools
import json
import uuid

import pytest
from moto.core.config import default_user_config

from mlrails.adapters import batch_runs, s3
from mlrails.adapters.clients import client
from mlrails.batch.job import BatchFailed, ShardFailed
from mlrails.cli import main
from mlrails.config import Batch
from mlrails.errors import BadRequest, ConfigError
from mlrails.local.synthetic import churn_frame
from mlrails.wiring import batch_state_machine_parameter
from support.aws import DAY, keys, redeploy
from support.samples import REPO, load_event

IN, OUT = "batch/job-1/input/", "batch/job-1/output/"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:mlrails-churn-dev-batch:"


@pytest.fixture
def batch(cloud, handler, lambda_context):
    module = handler("batch")
    return lambda event: module.lambda_handler(event, lambda_context)


def _deploy(cloud, cfg, monkeypatch, **fields):
    redeploy(cloud, cfg.model_copy(update={"batch": Batch(**fields)}), monkeypatch)


def _inputs(cloud, cfg, objects: int, *, broken: int | None = None) -> None:
    """``objects`` CSV files of 10 rows each under IN (one item each); ``broken``: that one is
    not UTF-8 text, so its shard fails."""
    frame = churn_frame(10 * objects, DAY, seed=4)[cfg.dataset.feature_names]
    for n in range(objects):
        body = frame.iloc[10 * n : 10 * (n + 1)].to_csv(index=False).encode()
        s3.put_bytes(s3.uri(cloud.data_bucket, f"{IN}{n}.csv"), b"tenure_months\n\xff\xfe\n" if n == broken else body)


def _run_as_the_map(
    batch, *, per_batch: int, tolerated: float, dies: set[int] = frozenset(), execution: str | None = None
) -> dict:
    """Plan, then the shard phase once per batch of items.json as the ItemBatcher cuts it
    (``dies``: batches whose invocation died before it wrote anything: a timeout), then the
    summary the state machine takes: after the Map, or after its catch when the failed items
    exceed the tolerance, as the Map judges it. Each run is an execution of its own (the
    summarize phase's idempotency key), ``execution`` unless given."""
    planned = batch(load_event("batch_plan"))
    items = s3.get_json(s3.uri(planned["bucket"], planned["items_key"]))
    batches = [items[i : i + per_batch] for i in range(0, len(items), per_batch)]
    assert len(batches) == planned["shards"]
    failed_items = 0
    for index, items_of_batch in enumerate(batches):
        if index in dies:
            failed_items += len(items_of_batch)
            continue
        try:
            batch({**load_event("batch_shard"), "items": items_of_batch})
        except ShardFailed:
            failed_items += len(items_of_batch)
    execution = execution or f"{EXECUTION}{uuid.uuid4()}"
    after_failure = {**load_event("batch_summarize_after_map_failure"), "execution": execution}
    if failed_items * 100 > tolerated * len(items):
        return batch(after_failure)
    return batch(_summarize_event(after_failure))


def _summarize_event(after_failure: dict) -> dict:
    """The Summarize step's event: the catch's, without the Map's error."""
    return {key: value for key, value in after_failure.items() if key != "map_error"}


def test_the_steps_score_every_item_and_summarize_from_the_shards_results(
    cloud, cfg, champion, bus, batch, monkeypatch
):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=2)
    _inputs(cloud, cfg, 5)

    answer = _run_as_the_map(batch, per_batch=2, tolerated=0)

    assert answer == {"summary_uri": f"s3://{cloud.data_bucket}/{OUT}summary.json", "rows_scored": 50}
    summary = s3.get_json(answer["summary_uri"])
    assert summary["started_at"] == "2026-03-01T00:00:00+00:00"  # the execution's start, as the plan step got it
    assert (summary["items"], summary["shards"], summary["shards_failed"], summary["failed"]) == (5, 3, 0, False)
    assert summary["rows_in"] == summary["rows_scored"] == 50 and summary["error"] is None
    assert len(keys(cloud.data_bucket, OUT + "results/")) == len(keys(cloud.data_bucket, OUT + "parts/")) == 3
    (event,) = bus.of("BatchScored")
    assert event["detail"]["summary_uri"] == answer["summary_uri"] and event["detail"]["shards"] == 3


def test_a_retried_summarize_answers_from_its_record_and_announces_the_job_once(
    cloud, cfg, champion, bus, batch, monkeypatch
):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=2)
    _inputs(cloud, cfg, 3)
    execution = EXECUTION + "nightly"
    first = _run_as_the_map(batch, per_batch=2, tolerated=0, execution=execution)

    # Step Functions retries the step when Lambda's answer was lost: the same execution.
    output_uri = f"s3://{cloud.data_bucket}/{OUT}"
    retried = batch({"phase": "summarize", "output_uri": output_uri, "execution": execution})

    assert retried == first and len(bus.of("BatchScored")) == 1
    with pytest.raises(BadRequest, match="'execution'"):
        batch({"phase": "summarize", "output_uri": output_uri})


def test_a_shard_that_left_no_result_is_counted_failed_within_the_tolerance(
    cloud, cfg, champion, bus, batch, monkeypatch
):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=1, tolerated_failure_percentage=25)
    _inputs(cloud, cfg, 4)

    _run_as_the_map(batch, per_batch=1, tolerated=25, dies={2})

    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    assert (summary["shards"], summary["shards_failed"], summary["shards_without_result"]) == (4, 1, 1)
    assert summary["failed"] is False and summary["rows_scored"] == 30
    assert bus.of("BatchScored")[0]["detail"]["shards_failed"] == 1


def test_beyond_the_tolerance_the_job_fails_after_writing_its_summary(cloud, cfg, champion, bus, batch, monkeypatch):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=1, tolerated_failure_percentage=25)
    _inputs(cloud, cfg, 4, broken=0)

    with pytest.raises(BatchFailed) as failed:
        _run_as_the_map(batch, per_batch=1, tolerated=25, dies={3})

    assert "2 of 4 shards failed, the map failed: States.ExceedToleratedFailureThreshold" in failed.value.message
    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    assert (summary["shards_failed"], summary["shards_without_result"], summary["failed"]) == (2, 1, True)
    (raised,) = [r for r in summary["shard_results"] if r["failed"]]
    assert raised["error"].startswith("BadRequest: not UTF-8 text")
    assert summary["error"].startswith("States.ExceedToleratedFailureThreshold")
    assert bus.of("BatchScored") == []


def test_a_rerun_forgets_the_results_of_the_run_before(cloud, cfg, champion, bus, batch, monkeypatch):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=1, tolerated_failure_percentage=50)
    _inputs(cloud, cfg, 2)
    _run_as_the_map(batch, per_batch=1, tolerated=50)
    # The second run's first shard dies: the first run's result for it must not stand in.
    _run_as_the_map(batch, per_batch=1, tolerated=50, dies={0})
    summary = s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json"))
    assert (summary["shards_failed"], summary["shards_without_result"], summary["rows_scored"]) == (1, 1, 10)


def test_the_plan_refuses_locations_outside_the_data_buckets_batch_prefix(cloud, cfg, champion, batch):
    with pytest.raises(ConfigError, match=rf"not under s3://{cloud.data_bucket}/batch/"):
        batch(
            {
                "phase": "plan",
                "input_uri": f"s3://{cloud.data_bucket}/raw/",
                "output_uri": f"s3://{cloud.data_bucket}/{OUT}",
            }
        )
    with pytest.raises(ConfigError, match="the output"):
        batch(
            {"phase": "plan", "input_uri": f"s3://{cloud.data_bucket}/{IN}", "output_uri": "s3://elsewhere/batch/out/"}
        )
    assert keys(cloud.data_bucket, "batch/") == []


def test_a_malformed_event_is_refused_by_name(cloud, batch):
    with pytest.raises(BadRequest, match="'phase'"):
        batch({"items": []})
    with pytest.raises(BadRequest, match="'output_uri'"):
        batch({"phase": "shard", "items": []})
    with pytest.raises(BadRequest, match="the shard's items"):
        batch({"phase": "shard", "items": [{"path": "x"}], "output_uri": "s3://b/batch/o/"})


# ---------------------------------------------------------------- `mlrails batch --env NAME`


@pytest.fixture
def deployed_machine(cloud, cfg, monkeypatch):
    """A state machine in the place of dev's batch state machine, its ARN in dev's parameter;
    moto runs its executions (Pass and Fail states), which end as the definition says."""
    monkeypatch.setitem(default_user_config["stepfunctions"], "execute_state_machine", True)
    monkeypatch.setattr(batch_runs, "FIRST_POLL_SECONDS", 0.05)
    parameter = batch_state_machine_parameter(cfg.project, "dev")
    deployments = itertools.count()

    def deploy(end: dict) -> None:
        machine = client("stepfunctions").create_state_machine(
            name=f"batch-{next(deployments)}",
            definition=json.dumps({"StartAt": "Job", "States": {"Job": end}}),
            roleArn="arn:aws:iam::123456789012:role/batch",
        )
        client("ssm").put_parameter(Name=parameter, Value=machine["stateMachineArn"], Type="String", Overwrite=True)

    return deploy


def _cli(cloud, *extra: str) -> int:
    location = f"s3://{cloud.data_bucket}/"
    job = ["--input", location + IN, "--output", location + OUT, "--env", "dev", *extra]
    return main(["--config", str(REPO / "mlrails.yaml"), "batch", *job])


def test_the_deployed_command_follows_the_execution_and_prints_the_summary(
    cloud, cfg, champion, batch, monkeypatch, deployed_machine, capsys
):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=2)
    _inputs(cloud, cfg, 3)
    _run_as_the_map(batch, per_batch=2, tolerated=0)  # what the execution's steps write
    deployed_machine({"Type": "Pass", "End": True})

    assert _cli(cloud) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == s3.get_json(s3.uri(cloud.data_bucket, OUT + "summary.json")) and printed["rows_scored"] == 30

    assert _cli(cloud, "--no-wait") == 0
    assert capsys.readouterr().out.startswith("arn:aws:states:")


def test_a_failed_job_exits_1_with_its_summary_and_a_refused_one_2(
    cloud, cfg, champion, batch, monkeypatch, deployed_machine, capsys
):
    _deploy(cloud, cfg, monkeypatch, items_per_batch=1)
    _inputs(cloud, cfg, 2, broken=1)
    with pytest.raises(BatchFailed) as failed:
        _run_as_the_map(batch, per_batch=1, tolerated=0)
    cause = json.dumps({"errorType": "BatchFailed", "errorMessage": failed.value.message})
    deployed_machine({"Type": "Fail", "Error": "BatchFailed", "Cause": cause})

    assert _cli(cloud) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["failed"] is True
    assert "ended FAILED: BatchFailed: 1 of 2 shards failed" in err

    refusal = json.dumps({"errorType": "ModelNotReady", "errorMessage": "no churn champion to score with"})
    deployed_machine({"Type": "Fail", "Error": "ModelNotReady", "Cause": refusal})
    assert _cli(cloud) == 2
    assert "the batch job was refused (ModelNotReady): no churn champion to score with" in capsys.readouterr().err


def test_an_environment_not_deployed_is_named(cloud, capsys):
    assert _cli(cloud) == 2
    assert "environment 'dev' is not deployed" in capsys.readouterr().err
