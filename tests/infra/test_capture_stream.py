"""The capture stream: Firehose into capture/, partitioned by the prediction's hour, encrypted,
written by the inference function through PutRecordBatch on that stream only."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template
from test_least_privilege import statements

from infra.support.nag import flatten_cfn_reference
from mlrails.capture import records as capture


def test_the_stream_delivers_to_capture_partitioned_by_prediction_hour(data_template: Template) -> None:
    data_template.resource_count_is("AWS::KinesisFirehose::DeliveryStream", 1)
    data_template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {
            "DeliveryStreamType": "DirectPut",
            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
            "ExtendedS3DestinationConfiguration": Match.object_like(
                {
                    "BucketARN": {"Fn::GetAtt": [Match.string_like_regexp("DataBucket"), "Arn"]},
                    "Prefix": "capture/date=!{partitionKeyFromQuery:date}/hour=!{partitionKeyFromQuery:hour}/",
                    "ErrorOutputPrefix": Match.string_like_regexp("^quarantine/capture/"),
                    "DynamicPartitioningConfiguration": Match.object_like({"Enabled": True}),
                    "ProcessingConfiguration": {
                        "Enabled": True,
                        "Processors": [
                            {
                                "Type": "MetadataExtraction",
                                "Parameters": Match.array_with(
                                    [
                                        {
                                            "ParameterName": "MetadataExtractionQuery",
                                            "ParameterValue": capture.PARTITION_QUERY,
                                        }
                                    ]
                                ),
                            }
                        ],
                    },
                    "BufferingHints": {"IntervalInSeconds": capture.BUFFER_SECONDS, "SizeInMBs": capture.BUFFER_MIB},
                    "CloudWatchLoggingOptions": Match.object_like({"Enabled": True}),
                }
            ),
        },
    )


def test_firehose_may_write_only_captures_and_their_errors(data_template: Template) -> None:
    [role_id] = data_template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [Match.object_like({"Principal": {"Service": "firehose.amazonaws.com"}})]
                }
            }
        },
    )
    writes = set()
    for policy in data_template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:PutObject" in actions:
                resources = (
                    statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                )
                writes |= {flatten_cfn_reference(r).rsplit("/", 2)[-2] for r in resources}
    assert writes == {"capture", "quarantine"}


def test_inference_may_only_put_record_batches_on_the_capture_stream(service_template: Template) -> None:
    firehose = [
        (action, resource)
        for s in statements(service_template, "inference")
        for action in s["actions"]
        if action.startswith("firehose:")
        for resource in s["resources"]
    ]
    assert len(firehose) == 1
    action, resource = firehose[0]
    assert action == "firehose:PutRecordBatch" and "CaptureDeliveryStream" in resource
    service_template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {"Variables": Match.object_like({"MLRAILS_CAPTURE_STREAM": Match.any_value()})},
        },
    )
