"""The two ways a champion answers: its compiled ONNX graph or its scikit-learn model.

Both take the protocol's typed columns (:class:`~mlrails.serving.protocol.Batch`) and return
JSON-native predictions and, when asked for, class probabilities. Each imports its libraries
when it is built, never when this module is imported: the ONNX path runs on onnxruntime and
numpy alone (the inference function's ``onnx`` package holds nothing else), the scikit-learn
path on pandas, scikit-learn and skops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mlrails.errors import MlrailsError
from mlrails.serving.protocol import Batch, Column

ServingPath = Literal["onnx", "skops"]
Answer = tuple[list[Any], list[dict[str, float]] | None]

# skl2onnx writes each category of a one-hot encoder as str(category), and scikit-learn keeps
# a missing category as float NaN: a missing value reaches the graph as the string "nan".
MISSING_CATEGORY = "nan"


class CompiledModelError(MlrailsError):
    """A model.onnx that onnxruntime cannot load, or whose inputs are not the manifest's features."""

    error_code = "ARTIFACT_ERROR"


@dataclass(frozen=True)
class Scores:
    """A batch's answers as the model gives them (numpy arrays): one prediction per row and,
    when asked for and the model has them, the class probabilities (rows x classes; column
    ``i`` is class ``classes[i]``). Batch scoring writes these whole; the API answers JSON."""

    predictions: Any
    probabilities: Any | None = None
    classes: tuple[str, ...] = ()

    def answer(self) -> Answer:
        """JSON-native predictions and, per row, the probabilities by class name."""
        predictions = [_native(p) for p in self.predictions]
        if self.probabilities is None:
            return predictions, None
        return predictions, [dict(zip(self.classes, row)) for row in self.probabilities.astype(float).tolist()]


class Predictor(Protocol):
    def scores(self, batch: Batch) -> Scores:
        """Predictions and, when the batch asks and the model has them, class probabilities."""

    def predict(self, batch: Batch) -> Answer:
        """:meth:`scores`, JSON-native."""


def onnx_inputs(batch: Batch, columns: Sequence[Column]) -> dict[str, Any]:
    """One ``[rows, 1]`` tensor per feature, typed as at conversion (:mod:`mlrails.serving.compiled`):
    float32 for numbers (a missing one is NaN), strings for categories."""
    import numpy as np

    feeds = {}
    for column in columns:
        values = batch.columns[column.name]
        if column.type == "numeric":
            array = np.asarray(values, dtype=np.float32)  # None becomes NaN
        else:
            array = np.asarray(values, dtype=object)
            missing = array == None  # noqa: E711 -- elementwise: which cells hold None
            if missing.any():
                array = np.where(missing, MISSING_CATEGORY, array)
        feeds[column.name] = array.reshape(-1, 1)
    return feeds


class OnnxPredictor:
    """A compiled champion: an onnxruntime session over ``model.onnx``."""

    path: ServingPath = "onnx"

    def __init__(self, blob: bytes, columns: Sequence[Column], classes: list[Any] | None) -> None:
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        options = ort.SessionOptions()
        # Lambda gives a function one or two vCPUs: more threads only contend.
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
        # onnxruntime's errors derive from Exception directly, one class per status code.
        except (
            state.Fail,
            state.InvalidArgument,
            state.InvalidGraph,
            state.InvalidProtobuf,
            state.NotImplemented,
            state.RuntimeException,
        ) as exc:
            raise CompiledModelError(f"model.onnx cannot be loaded: {exc}") from exc
        self.columns, self.classes = list(columns), classes
        expected = sorted(c.name for c in self.columns)
        found = sorted(i.name for i in self.session.get_inputs())
        if found != expected:
            raise CompiledModelError(f"the ONNX graph's inputs {found} are not the manifest's features {expected}")

    def scores(self, batch: Batch) -> Scores:
        """Output 0 is the label (classifiers) or the value (regressors), output 1 the
        probabilities in ``classes`` order (converted with zipmap off)."""
        outputs = self.session.run(None, onnx_inputs(batch, self.columns))
        if batch.return_probabilities and self.classes is not None and len(outputs) > 1:
            return Scores(outputs[0].reshape(-1), outputs[1], tuple(str(c) for c in self.classes))
        return Scores(outputs[0].reshape(-1))

    def predict(self, batch: Batch) -> Answer:
        """:meth:`scores`, JSON-native."""
        return self.scores(batch).answer()


class SkopsPredictor:
    """The scikit-learn champion, loaded from its skops file with the trust policy."""

    path: ServingPath = "skops"

    def __init__(self, blob: bytes, columns: Sequence[Column], trusted_types: Sequence[str]) -> None:
        from mlrails.serving import artifacts  # skops (and scikit-learn) load only on this path

        self.model = artifacts.loads(blob, trusted_types)
        self.columns = list(columns)

    def scores(self, batch: Batch) -> Scores:
        """The model's predict (and predict_proba) on a DataFrame of the batch."""
        import pandas as pd

        frame = pd.DataFrame(batch.columns, columns=[c.name for c in self.columns])
        predictions = self.model.predict(frame)
        if batch.return_probabilities and hasattr(self.model, "predict_proba"):
            names = tuple(str(_native(c)) for c in self.model.classes_)
            return Scores(predictions, self.model.predict_proba(frame), names)
        return Scores(predictions)

    def predict(self, batch: Batch) -> Answer:
        """:meth:`scores`, JSON-native."""
        return self.scores(batch).answer()


def _native(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
