"""feature_prep: raw files in, Parquet features out, bad files quarantined (invoked by the
RawObjectCreated route)."""

from __future__ import annotations

from constructs import Construct

from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from mlrails import wiring


class FeaturePrep(Construct):
    """The feature pipeline's function."""

    def __init__(self, scope: Construct, construct_id: str, *, context: FunctionContext) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(self, "Handler", spec=wiring.function("feature_prep"), context=context)
