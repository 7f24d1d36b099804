"""What the release pipeline (and a person) needs to apply and check a release in one
environment, found without knowing its stacks.

Two SSM parameters, at :func:`mlrails.wiring.api_parameters`: the scoring API's URL and the id
of its default API key (``iam`` when the environment takes SigV4 instead: ``auth: iam``).
In a stage the pipeline releases the lock to (a ``models: release`` one), a role named
:func:`mlrails.wiring.release_role_name`, assumed by the pipeline's steps for this environment
(their role, by name, in the pipeline's account), to run ``mlrails release apply`` (the operator
policy: the train function's URL) and ``mlrails release verify`` (the parameters, then the key's
value to call the API, or with ``auth: iam`` the API's invoke policy).
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.inference_api import InferenceApi
from infra.support.release import lock_stages, pipeline_account, release_step_role_arn
from mlrails import wiring
from mlrails.config import ProjectConfig

# The key-id parameter's value when the API takes IAM (SigV4) authorization, not a key.
IAM_AUTH = "iam"


class ReleaseAccess(Construct):
    """``url_parameter``, ``key_parameter`` and, in a stage the pipeline releases the lock to,
    ``role`` (else None)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: ProjectConfig,
        environment_name: str,
        inference: InferenceApi,
        operator_policy: iam.IManagedPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        url_name, key_name = wiring.api_parameters(cfg.project, environment_name)
        self.url_parameter = ssm.StringParameter(
            self,
            "ApiUrl",
            parameter_name=url_name,
            string_value=inference.api.url,
            description="The scoring API's URL (its stage's root): where `mlrails release verify` calls it",
        )
        self.key_parameter = ssm.StringParameter(
            self,
            "ApiKeyId",
            parameter_name=key_name,
            string_value=inference.api_key.key_id if inference.api_key is not None else IAM_AUTH,
            description=f"The scoring API's default key id (`{IAM_AUTH}`: the API takes SigV4, not a key)",
        )
        self.role: iam.Role | None = None
        if cfg.release is None or environment_name not in lock_stages(cfg):
            return
        self.role = iam.Role(
            self,
            "Role",
            role_name=wiring.release_role_name(cfg.project, environment_name),
            description=f"mlrails release steps for {environment_name}: apply the model lock and smoke-test the API",
            # The pipeline's account, narrowed to the role of this environment's steps. A
            # condition, not that role as the principal: it may not exist yet (this stack may
            # be deployed before the pipeline's), and a trust policy naming it would not deploy.
            assumed_by=iam.AccountPrincipal(pipeline_account(cfg)).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": release_step_role_arn(self, cfg, environment_name)}}
            ),
            managed_policies=[
                operator_policy,
                *([inference.invoke_policy] if inference.invoke_policy is not None else []),
            ],
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[self.url_parameter.parameter_arn, self.key_parameter.parameter_arn],
            )
        )
        if inference.api_key is not None:
            # GetApiKey with includeValue: the default key's value, to call the API with it.
            self.role.add_to_policy(
                iam.PolicyStatement(
                    actions=["apigateway:GET"],
                    resources=[f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/apikeys/{inference.api_key.key_id}"],
                )
            )
