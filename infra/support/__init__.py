"""What the CDK app uses that is not a construct: least-privilege grants, cdk-nag
acknowledgements, repository paths and metric helpers."""
