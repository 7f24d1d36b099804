"""drift_check: the captured window against the reference profile saved at training
(invoked by the DriftCheck schedule)."""

from __future__ import annotations

from constructs import Construct

from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from mlrails import wiring


class DriftCheck(Construct):
    """The statistical monitor's function."""

    def __init__(self, scope: Construct, construct_id: str, *, context: FunctionContext) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(self, "Handler", spec=wiring.function("drift_check"), context=context)
