"""The capture stream: Kinesis Data Firehose from the inference function into the data
bucket's ``capture/``, partitioned by each prediction's own hour.

The request path makes one ``PutRecordBatch`` call instead of an S3 PUT per request; Firehose
buffers (:data:`mlrails.capture.records.BUFFER_SECONDS`) and writes one object per hour partition.
Dynamic partitioning (a JQ query on the record's ``timestamp``) rather than Firehose's
arrival-time ``!{timestamp:...}`` prefix, so that a record buffered across an hour boundary
still lands in the hour the drift check reads for it. The destination configuration comes
from :func:`mlrails.capture.records.destination`, which the local runtime also creates on moto.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.support.access import Access, grant_prefix
from mlrails.capture import records
from mlrails.wiring import Prefix

LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class CaptureDelivery(Construct):
    """``stream`` (its name is ``stream_name``) and :meth:`grant_put_records`."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket) -> None:
        super().__init__(scope, construct_id)
        role = iam.Role(
            self,
            "Role",
            description="Kinesis Data Firehose: deliver captures into the data bucket",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
            ),
        )
        # What Firehose's S3 delivery calls (the S3 destination access it documents), by prefix:
        # captures under capture/, records it could not partition under quarantine/.
        grant_prefix(bucket, role, Access.GET | Access.PUT | Access.ABORT, Prefix.CAPTURE, Prefix.QUARANTINE)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            )
        )

        # Delivery errors (a denied PUT, a record the query cannot read) are logged here.
        log_group = logs.LogGroup(self, "DeliveryLogs", retention=LOG_RETENTION)
        log_stream = log_group.add_stream("S3Delivery")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                resources=[
                    Stack.of(self).format_arn(
                        service="logs",
                        resource="log-group",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        resource_name=f"{log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
                    )
                ],
            )
        )

        self.stream = firehose.CfnDeliveryStream(
            self,
            "Stream",
            delivery_stream_type="DirectPut",
            # Encrypted at rest while buffered, with an AWS owned KMS key (no key to pay for or manage).
            delivery_stream_encryption_configuration_input=(
                firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(key_type="AWS_OWNED_CMK")
            ),
        )
        self.stream.add_property_override(
            "ExtendedS3DestinationConfiguration",
            {
                **records.destination(bucket.bucket_arn, role.role_arn),
                "CloudWatchLoggingOptions": {
                    "Enabled": True,
                    "LogGroupName": log_group.log_group_name,
                    "LogStreamName": log_stream.log_stream_name,
                },
            },
        )
        # The role's policy must exist before Firehose first delivers with it.
        self.stream.node.add_dependency(role)
        self.stream_name = self.stream.ref

    def grant_put_records(self, grantee: iam.IGrantable) -> None:
        """``firehose:PutRecordBatch`` on this stream only (mlrails.adapters.delivery)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["firehose:PutRecordBatch"], resource_arns=[self.stream.attr_arn]
        )
