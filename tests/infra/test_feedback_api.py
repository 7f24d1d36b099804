"""POST /feedback is an API of its own, with a credential of its own: the scoring key (or a
scoring caller's IAM policy) cannot label. A usage plan covers whole stages, so the feedback
route lives on another REST API, with its own plan and key (auth: api_key) or its own
execute-api policy (auth: iam)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from mlrails import openapi, wiring
from mlrails.config import ProjectConfig


def _api_ids(template: Template, cfg: ProjectConfig) -> tuple[str, str]:
    """(scoring API, feedback API) logical ids, by the names the construct gives them."""
    apis = {
        api["Properties"]["Name"]: logical_id
        for logical_id, api in template.find_resources("AWS::ApiGateway::RestApi").items()
    }
    name = f"mlrails-{cfg.project}-dev"
    assert set(apis) == {name, f"{name}-feedback"}
    return apis[name], apis[f"{name}-feedback"]


def _methods_by_api(template: Template) -> dict[str, set[str]]:
    """API logical id -> its non-preflight methods as 'VERB /path'."""
    resources = template.find_resources("AWS::ApiGateway::Resource")
    found: dict[str, set[str]] = {}
    for method in template.find_resources("AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if props["HttpMethod"] == "OPTIONS":
            continue
        path = resources[props["ResourceId"]["Ref"]]["Properties"]["PathPart"]
        found.setdefault(props["RestApiId"]["Ref"], set()).add(f"{props['HttpMethod']} /{path}")
    return found


def test_feedback_is_the_only_route_of_its_own_api(service_template: Template, cfg: ProjectConfig) -> None:
    scoring, feedback = _api_ids(service_template, cfg)
    assert _methods_by_api(service_template) == {
        scoring: {f"{method} {path}" for path, method in openapi.SCORING_ROUTES},
        feedback: {"POST /feedback"},
    }


def test_each_api_has_its_own_usage_plan_and_key(service_template: Template, cfg: ProjectConfig) -> None:
    env = cfg.environments["dev"]
    scoring, feedback = _api_ids(service_template, cfg)
    plans = service_template.find_resources("AWS::ApiGateway::UsagePlan")
    by_api = {}
    for logical_id, plan in plans.items():
        [stage] = plan["Properties"]["ApiStages"]  # one API's stage, never both
        by_api[stage["ApiId"]["Ref"]] = (logical_id, plan["Properties"])
    assert set(by_api) == {scoring, feedback}
    assert by_api[feedback][1]["Throttle"] == {
        "RateLimit": env.feedback_throttle_rate,
        "BurstLimit": env.feedback_throttle_burst,
    }
    assert by_api[feedback][1]["Quota"] == {"Limit": env.feedback_daily_quota, "Period": "DAY"}
    assert by_api[scoring][1]["Throttle"] == {"RateLimit": env.throttle_rate, "BurstLimit": env.throttle_burst}
    # Each key is in exactly one plan: the scoring key opens no stage of the feedback API.
    links = [link["Properties"] for link in service_template.find_resources("AWS::ApiGateway::UsagePlanKey").values()]
    keys_by_plan = {link["UsagePlanId"]["Ref"]: link["KeyId"]["Ref"] for link in links}
    assert len(links) == 2 and len(set(keys_by_plan.values())) == 2
    assert set(keys_by_plan) == {by_api[scoring][0], by_api[feedback][0]}
    service_template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "RestApiId": {"Ref": feedback},
            "TracingEnabled": True,
            "AccessLogSetting": Match.any_value(),
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "ThrottlingRateLimit": env.feedback_throttle_rate,
                            "ThrottlingBurstLimit": env.feedback_throttle_burst,
                        }
                    )
                ]
            ),
        },
    )
    outputs = service_template.find_outputs("*")
    assert any(name.startswith("InferenceFeedbackApiKeyId") for name in outputs)
    assert any(name.startswith("InferenceFeedbackUrl") for name in outputs)


def test_inference_knows_the_feedback_api_and_reads_only_its_signing_key(
    service_template: Template, cfg: ProjectConfig
) -> None:
    _, feedback = _api_ids(service_template, cfg)
    [secret] = service_template.find_resources("AWS::SecretsManager::Secret").items()
    assert secret[1]["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert secret[1]["DeletionPolicy"] == "Retain"  # ids awaiting labels must still verify
    service_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Description": wiring.function("inference").description,
            "Environment": {
                "Variables": Match.object_like(
                    {"MLRAILS_FEEDBACK_API_ID": {"Ref": feedback}, "MLRAILS_PREDICTION_ID_SECRET": {"Ref": secret[0]}}
                )
            },
        },
    )
    readers = [
        statement
        for policy in service_template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "secretsmanager" in str(statement["Action"]) and statement["Resource"] == {"Ref": secret[0]}
    ]
    assert [r["Action"] for r in readers] == ["secretsmanager:GetSecretValue"]


@pytest.fixture(scope="module")
def iam_template(dev_service_template: Callable[[dict[str, Any]], Template]) -> Template:
    return dev_service_template({"auth": "iam"})


def test_with_iam_a_policy_per_api_invokes_its_own_routes_only(iam_template: Template, cfg: ProjectConfig) -> None:
    scoring, feedback = _api_ids(iam_template, cfg)
    policies = {
        p["Properties"]["Description"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in iam_template.find_resources("AWS::IAM::ManagedPolicy").values()
        if "execute-api" in str(p["Properties"]["PolicyDocument"])
    }
    [(_, labeller)] = [(d, s) for d, s in policies.items() if "send labels" in d]
    [(_, scorer)] = [(d, s) for d, s in policies.items() if "send labels" not in d]

    def targets(statements: list[dict]) -> list[str]:
        assert all(s["Action"] == "execute-api:Invoke" for s in statements)
        resources = [
            r for s in statements for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        ]
        return [str(r) for r in resources]

    [only] = targets(labeller)
    assert f"'Ref': '{feedback}'" in only and "/v1/POST/feedback" in only and scoring not in only
    scoring_targets = targets(scorer)
    assert len(scoring_targets) == len(openapi.SCORING_ROUTES)
    assert all(f"'Ref': '{scoring}'" in t and feedback not in t for t in scoring_targets)
    outputs = iam_template.find_outputs("*")
    assert any(name.startswith("InferenceFeedbackPolicyArn") for name in outputs)
    assert any(name.startswith("InferenceInvokePolicyArn") for name in outputs)
    iam_template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)
