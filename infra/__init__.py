"""The mlrails CDK app: one Stage per environment, stacks that compose ``constructs/``."""
