"""performance_check: the champion's settled predictions against the labels fed back for them
(invoked by the PerformanceCheck schedule)."""

from __future__ import annotations

from constructs import Construct

from infra.constructs.pipeline_function import FunctionContext, PipelineFunction
from mlrails import wiring


class PerformanceCheck(Construct):
    """The business / model-quality monitor's function."""

    def __init__(self, scope: Construct, construct_id: str, *, context: FunctionContext) -> None:
        super().__init__(scope, construct_id)
        self.handler = PipelineFunction(self, "Handler", spec=wiring.function("performance_check"), context=context)
