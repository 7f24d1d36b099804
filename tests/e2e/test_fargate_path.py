"""The Fargate path locally (training.compute: fargate): each step of the run is the training
task's entrypoint (functions/train/task.py) in a process of its own, on this runtime's moto
through its server mode, and the run ends as the train function's does: a model registered and
promoted, the same steps' results in the state."""

from datetime import UTC, datetime

import pytest

from mlrails.adapters import manifests, s3
from mlrails.local.router import Invocation
from mlrails.local.runtime import LocalRuntime
from mlrails.local.synthetic import churn_frame
from mlrails.wiring import TRAINING, step_result_key

pytestmark = pytest.mark.e2e


def _on(cfg, compute: str):
    return cfg.model_copy(update={"training": cfg.training.model_copy(update={"compute": compute})})


def test_a_run_on_the_fargate_path_registers_and_promotes_like_the_lambda_path(cfg, tmp_path, restore_environ):
    outcomes = {}
    for compute in ("lambda", "fargate"):
        seen: list[Invocation] = []
        start = datetime(2026, 3, 2, tzinfo=UTC)
        with LocalRuntime(_on(cfg, compute), tmp_path / compute, start=start, on_invocation=seen.append) as runtime:
            runtime.upload_raw("batch.csv", churn_frame(300, runtime.now, seed=1).to_csv(index=False).encode())
            champion = manifests.read_current(runtime.cloud.names.artifacts_bucket, cfg.model.name)
            steps = [i for i in seen if i.function == TRAINING.function]
            results = {
                step: s3.get_optional(
                    s3.uri(
                        runtime.cloud.names.artifacts_bucket,
                        step_result_key(steps[0].event["state"]["request"]["trigger_id"], step),
                    )
                )
                for step in TRAINING.steps
            }
        assert [i.error for i in steps] == [None, None, None], [i.error for i in steps]
        outcomes[compute] = (champion, steps, results)

    (lambda_champion, lambda_steps, lambda_files), (champion, steps, files) = outcomes["lambda"], outcomes["fargate"]
    assert [i.trigger for i in steps] == [f"{step} step (Fargate task)" for step in TRAINING.steps]
    assert champion is not None and champion.version == lambda_champion.version == "1"
    assert steps[-1].result == {"promoted": True, "reason": lambda_steps[-1].result["reason"]}
    assert champion.metrics == lambda_champion.metrics  # same data, seed and code: the same model
    # The task left each result where the state machine reads it; the function path leaves none.
    assert all(files[step] is not None for step in TRAINING.steps)
    assert not any(lambda_files.values())
    # Each step saw the state the Lambda path's would: the earlier results, as they were returned.
    assert steps[1].event["state"]["train"] == steps[0].result
    assert steps[2].event["state"]["evaluate"] == steps[1].result
    assert steps[0].event["state"]["compute"] == "fargate" and lambda_steps[0].event["state"]["compute"] == "lambda"
