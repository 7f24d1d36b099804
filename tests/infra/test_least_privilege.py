"""Each function's role allows exactly what its code calls, by bucket and key prefix: the S3
calls of mlrails.adapters and the domain module the function runs, the state table items
(Powertools Idempotency, StateTable), the project bus, the training state machine.

Statements are read one by one from the role's policies: never whole documents, never hashed
logical ids (the function is found by its description, a bucket by its construct id's name).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from test_training_pipeline import state_machine

from infra.support.nag import flatten_cfn_reference
from mlrails import wiring
from mlrails.config import ProjectConfig, load_config
from support.samples import REPO

# (bucket, S3 action) -> key prefixes; for s3:ListBucket, the prefixes its s3:prefix condition allows.
S3Grants = dict[tuple[str, str], set[str]]

RELEASE_STORE = load_config(REPO / "mlrails.yaml").release_store or "(none)"

IDEMPOTENCY = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
STATE = {"dynamodb:GetItem", "dynamodb:UpdateItem"}

EXPECTED_S3: dict[str, S3Grants] = {
    "feature_prep": {
        ("artifacts", "s3:GetObject"): {"config/"},
        # get_optional of the event's version (absent = already quarantined: a 404, so listable)
        ("data", "s3:GetObject"): {"raw/"},
        ("data", "s3:GetObjectVersion"): {"raw/"},
        ("data", "s3:ListBucket"): {"raw/"},
        # quarantine: copy, reason, then delete that version; features: below each day's raw/
        # (never a day's labelled traffic, below its feedback/)
        ("data", "s3:DeleteObject"): {"raw/"},
        ("data", "s3:DeleteObjectVersion"): {"raw/"},
        ("data", "s3:PutObject"): {"features/date=*/raw/", "quarantine/"},
    },
    "inference": {
        # HEAD/GET the manifest (absent = 503 "no model yet", not a 403 turned 500), the model
        # (the S3 version the manifest recorded)
        ("artifacts", "s3:GetObject"): {"config/", "manifests/", "models/"},
        ("artifacts", "s3:GetObjectVersion"): {"models/"},
        ("artifacts", "s3:ListBucket"): {"manifests/"},
        ("data", "s3:PutObject"): {"feedback/"},
    },
    "drift_check": {
        # the manifest (absent = no model), its profile.json under models/ (the recorded version)
        # and for a fanned-out window (mlrails.drift.fanout) its plan (a retry reads the first
        # back) and item list, its partials listed and read
        ("artifacts", "s3:GetObject"): {"config/", "manifests/", "models/", "reports/drift/churn-classifier/"},
        ("artifacts", "s3:GetObjectVersion"): {"models/"},
        ("artifacts", "s3:ListBucket"): {"manifests/", "reports/drift/churn-classifier/"},
        ("artifacts", "s3:PutObject"): {"reports/"},
        # the capture window: listed by hour partition, then read
        ("data", "s3:GetObject"): {"capture/"},
        ("data", "s3:ListBucket"): {"capture/"},
    },
    "performance_check": {
        # the manifest (absent = no model), the report
        ("artifacts", "s3:GetObject"): {"config/", "manifests/"},
        ("artifacts", "s3:ListBucket"): {"manifests/"},
        ("artifacts", "s3:PutObject"): {"reports/"},
        # the settled window's captures by hour partition, the labels by day of arrival
        ("data", "s3:GetObject"): {"capture/", "feedback/"},
        ("data", "s3:ListBucket"): {"capture/", "feedback/"},
    },
    "retrain_trigger": {
        # the manifest (absent = no champion yet), the decision report
        ("artifacts", "s3:GetObject"): {"config/", "manifests/"},
        ("artifacts", "s3:ListBucket"): {"manifests/"},
        ("artifacts", "s3:PutObject"): {"reports/"},
    },
    "train": {
        # the features; the gate's labelled traffic: captures by hour partition, labels by day
        ("data", "s3:GetObject"): {"features/", "capture/", "feedback/"},
        ("data", "s3:ListBucket"): {"features/", "capture/", "feedback/"},
        # the champion (manifest, absent before the first promotion; its model), the new
        # version's model, profile and candidate manifest (read back on promotion), manifests,
        # the audit record under audit/ (listed and read back by `mlrails models`; no other
        # role may write there), MLflow's artifact store
        ("artifacts", "s3:GetObject"): {"config/", "manifests/", "models/", "mlflow/", "audit/"},
        ("artifacts", "s3:GetObjectVersion"): {"models/"},
        ("artifacts", "s3:ListBucket"): {"manifests/", "models/", "mlflow/", "audit/"},
        # ... and its events, left in the outbox (written only: the relay reads and deletes them)
        ("artifacts", "s3:PutObject"): {"manifests/", "models/", "mlflow/", "audit/", "outbox/"},
        # the audit record is locked as it is written (S3 Object Lock, governance mode)
        ("artifacts", "s3:PutObjectRetention"): {"audit/"},
        ("artifacts", "s3:AbortMultipartUpload"): {"mlflow/"},
        # the release store (dev trains): `release propose` copies a locked model's files in,
        # each under its sha256, and checks which are there already (a missing one is a 404)
        ("release", "s3:GetObject"): {"release/sha256/"},
        ("release", "s3:ListBucket"): {"release/sha256/"},
        ("release", "s3:PutObject"): {"release/sha256/"},
    },
    # the config only: its state is the leases' item and MLflow's ECS service
    "tracking_switch": {("artifacts", "s3:GetObject"): {"config/"}},
    "event_relay": {
        # the outbox object (absent = relayed already: a 404, so listable), deleted once on the
        # bus; nothing else, not even the config
        ("artifacts", "s3:GetObject"): {"outbox/"},
        ("artifacts", "s3:ListBucket"): {"outbox/"},
        ("artifacts", "s3:DeleteObject"): {"outbox/"},
    },
    "batch": {
        # the champion as inference reads it: the manifest (absent = ModelNotReady, a listable
        # 404), the files of the version it records
        ("artifacts", "s3:GetObject"): {"config/", "manifests/", "models/"},
        ("artifacts", "s3:GetObjectVersion"): {"models/"},
        ("artifacts", "s3:ListBucket"): {"manifests/"},
        # a job reads its input and writes its output below batch/ only (plan_job refuses
        # others): list and read the input, the item list, the plan and the shards' results;
        # write and replace parts, refused rows and results (a rerun deletes the stale ones)
        ("data", "s3:GetObject"): {"batch/"},
        ("data", "s3:ListBucket"): {"batch/"},
        ("data", "s3:PutObject"): {"batch/"},
        ("data", "s3:DeleteObject"): {"batch/"},
        ("data", "s3:AbortMultipartUpload"): {"batch/"},
    },
}
EXPECTED_TABLE = {
    "feature_prep": IDEMPOTENCY,
    "inference": set(),
    "drift_check": IDEMPOTENCY | STATE,
    "performance_check": IDEMPOTENCY,
    "retrain_trigger": IDEMPOTENCY | STATE,
    "train": IDEMPOTENCY,
    "tracking_switch": STATE,
    "event_relay": IDEMPOTENCY,
    # A retried plan or shard writes the same keys again; a retried summary announces nothing twice.
    "batch": IDEMPOTENCY,
}
PUBLISHES = {
    "feature_prep": True,
    "inference": False,
    "drift_check": True,
    "performance_check": True,
    "retrain_trigger": True,
    # No route to EventBridge from its subnets: its events go through the outbox and the relay.
    "train": False,
    "tracking_switch": False,
    "event_relay": True,
    "batch": True,  # BatchScored
}
# Step Functions: retrain_trigger starts training runs (one per trigger id), drift_check the
# fan-out of a window too big for one pass (one per window), nothing else.
STATES = {
    "feature_prep": set(),
    "inference": set(),
    "drift_check": {("states:StartExecution", "drift")},
    "performance_check": set(),
    "retrain_trigger": {("states:StartExecution", "training")},
    "train": set(),
    "tracking_switch": set(),
    "event_relay": set(),
    "batch": set(),
}


def statements(template: Template, function_name: str) -> list[dict[str, Any]]:
    """The statements of the function's role policies, actions and resources as lists."""
    description = wiring.function(function_name).description
    functions = [
        fn
        for fn in template.find_resources("AWS::Lambda::Function").values()
        if fn["Properties"].get("Description") == description
    ]
    assert len(functions) == 1
    role_id = functions[0]["Properties"]["Role"]["Fn::GetAtt"][0]
    found = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions, resources = statement["Action"], statement["Resource"]
            found.append(
                {
                    "actions": actions if isinstance(actions, list) else [actions],
                    "resources": [
                        flatten_cfn_reference(r) for r in (resources if isinstance(resources, list) else [resources])
                    ],
                    "condition": statement.get("Condition"),
                }
            )
    return found


def bucket_of(resource: str) -> str:
    """``data`` or ``artifacts``, from the bucket's construct id in its ARN's export name, or
    ``release``: the release store, by its name (the pipeline's stack, another account's)."""
    if re.match(rf"arn:<AWS::Partition>:s3:::{re.escape(RELEASE_STORE)}(/|$)", resource):
        return "release"
    match = re.search(r"(Data|Artifacts)Bucket", resource)
    assert match, f"not one of the project's buckets: {resource}"
    return match.group(1).lower()


def s3_grants(template: Template, function_name: str) -> S3Grants:
    grants: S3Grants = defaultdict(set)
    for statement in statements(template, function_name):
        for action in (a for a in statement["actions"] if a.startswith("s3:")):
            for resource in statement["resources"]:
                if action == "s3:ListBucket":
                    # On the bucket, never unconditioned: only keys under the named prefixes.
                    assert "/" not in resource, f"{function_name}: ListBucket on {resource}"
                    assert statement["condition"] is not None and set(statement["condition"]) == {"StringLike"}, (
                        f"{function_name}: ListBucket on {resource} without an s3:prefix condition"
                    )
                    patterns = statement["condition"]["StringLike"]["s3:prefix"]
                    patterns = patterns if isinstance(patterns, list) else [patterns]
                    assert all(p.endswith("/*") for p in patterns), patterns
                    grants[bucket_of(resource), action] |= {p.removesuffix("*") for p in patterns}
                else:
                    assert statement["condition"] is None
                    assert resource.endswith("/*"), f"{function_name}: {action} on {resource}, not a key prefix"
                    grants[bucket_of(resource), action].add(resource.split("/", 1)[1].removesuffix("*"))
    return dict(grants)


def table_actions(template: Template, function_name: str) -> set[str]:
    found = set()
    for statement in statements(template, function_name):
        dynamodb = {a for a in statement["actions"] if a.startswith("dynamodb:")}
        if dynamodb:
            assert all(re.search(r"StateTable", r) for r in statement["resources"]), statement["resources"]
            found |= dynamodb
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED_S3))
def test_s3_grants_are_exactly_what_the_code_calls(service_template: Template, name: str) -> None:
    assert s3_grants(service_template, name) == EXPECTED_S3[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_TABLE))
def test_state_table_grants_are_exactly_what_the_code_calls(service_template: Template, name: str) -> None:
    assert table_actions(service_template, name) == EXPECTED_TABLE[name]


@pytest.mark.parametrize("name", sorted(PUBLISHES))
def test_only_publishers_may_put_events(service_template: Template, name: str) -> None:
    events = {a for s in statements(service_template, name) for a in s["actions"] if a.startswith("events:")}
    assert events == ({"events:PutEvents"} if PUBLISHES[name] else set())


@pytest.mark.parametrize("name", sorted(STATES))
def test_only_retrain_trigger_may_start_training_and_drift_check_its_fanout(
    service_template: Template, cfg: ProjectConfig, name: str
) -> None:
    training, _ = state_machine(service_template)
    machines = {
        "training": f"<{training}>",
        # Known by its fixed name (the machine invokes the function: a reference would be a cycle).
        "drift": "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:"
        + wiring.drift_state_machine_name(cfg.project, "dev"),
    }
    found = [
        (action, resource)
        for s in statements(service_template, name)
        for action in s["actions"]
        if action.startswith("states:")
        for resource in s["resources"]
    ]
    # On the state machine itself: not its executions, not any other machine.
    assert found == [(action, machines[machine]) for action, machine in sorted(STATES[name])]


def test_labelled_traffic_as_training_rows_adds_exactly_its_prefix(dev_service_template) -> None:
    """training.feedback_rows: the performance check reads what it wrote of a day (HEAD; a day
    not written yet is a 404) and writes the day's rows below its features partition's
    feedback/, nowhere else under features/ (off: no grant at all)."""
    grants = s3_grants(dev_service_template({"auth": "api_key"}, training={"feedback_rows": True}), "performance_check")
    assert grants == {
        **EXPECTED_S3["performance_check"],
        ("data", "s3:GetObject"): {"capture/", "feedback/", "features/date=*/feedback/"},
        ("data", "s3:ListBucket"): {"capture/", "feedback/", "features/date=*/feedback/"},
        ("data", "s3:PutObject"): {"features/date=*/feedback/"},
    }


def test_a_missing_manifest_is_a_404_for_every_reader(service_template: Template) -> None:
    """mlrails.adapters.s3.get_optional and the serving cache treat NoSuchKey/404 as "no model
    yet"; without ListBucket S3 answers 403 AccessDenied for a missing key, and they fail."""
    for name, grants in EXPECTED_S3.items():
        if "manifests/" in grants.get(("artifacts", "s3:GetObject"), set()):
            assert "manifests/" in s3_grants(service_template, name)[("artifacts", "s3:ListBucket")], name
    service_template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "s3:ListBucket",
                            "Effect": "Allow",
                            "Resource": Match.any_value(),
                            "Condition": {"StringLike": {"s3:prefix": ["manifests/*"]}},
                        }
                    ]
                )
            },
        },
    )


def test_only_the_train_role_writes_the_outbox_and_only_the_relay_reads_or_deletes_it(
    service_template: Template,
) -> None:
    """Whoever may write outbox/ may put any event on the bus through the relay: the train
    function alone (and its training task, with its role)."""
    on_outbox = {
        (name, action)
        for name in EXPECTED_S3
        for (bucket, action), prefixes in s3_grants(service_template, name).items()
        if bucket == "artifacts" and "outbox/" in prefixes
    }
    assert on_outbox == {
        ("train", "s3:PutObject"),
        ("event_relay", "s3:GetObject"),
        ("event_relay", "s3:ListBucket"),
        ("event_relay", "s3:DeleteObject"),
    }


def test_every_function_is_covered() -> None:
    assert (
        set(EXPECTED_S3)
        == set(EXPECTED_TABLE)
        == set(PUBLISHES)
        == set(STATES)
        == {spec.name for spec in wiring.FUNCTIONS}
    )


@pytest.mark.parametrize("name", [spec.name for spec in wiring.FUNCTIONS])
def test_no_wildcard_actions_and_no_raw_writes(service_template: Template, name: str) -> None:
    for statement in statements(service_template, name):
        for action in statement["actions"]:
            assert "*" not in action, f"{name}: {action}"
    assert ("data", "s3:PutObject") not in s3_grants(service_template, name) or "raw/" not in s3_grants(
        service_template, name
    )[("data", "s3:PutObject")]
