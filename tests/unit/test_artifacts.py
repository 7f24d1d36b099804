"""The model file trust policy: exact types recorded at training, and a never list."""

import builtins
import functools
import operator

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.preprocessing import FunctionTransformer

from mlrails.errors import UntrustedArtifact
from mlrails.serving import artifacts

X = np.array([[0.0], [1.0], [2.0], [3.0]])
Y = np.array([0, 1, 0, 1])


class Custom:  # defined here: its module is trusted only when it is the entrypoint's package
    def predict(self, x):
        return x


# Model files that run what they are given at predict (or transform): each one loaded and ran
# code under the module-root policy, which trusted builtins and functools.
GADGETS = {
    "eval": FunctionTransformer(func=builtins.eval),
    "exec": FunctionTransformer(func=builtins.exec),
    "getattr": FunctionTransformer(func=builtins.getattr, kw_args={"name": "__class__"}),
    "partial": FunctionTransformer(func=functools.partial(builtins.print, "side effect")),
    "attrgetter": FunctionTransformer(func=operator.attrgetter("shape")),
}


@pytest.mark.parametrize("name", sorted(GADGETS))
def test_a_gadget_model_is_refused_at_training(name):
    with pytest.raises(UntrustedArtifact, match="types that can run code, never trusted"):
        artifacts.trusted_types(artifacts.dumps(GADGETS[name]), [Custom.__module__.split(".")[0]])


@pytest.mark.parametrize("name", sorted(GADGETS))
def test_a_gadget_model_is_refused_at_load_whatever_its_manifest_trusts(name):
    blob = artifacts.dumps(GADGETS[name])
    from skops.io import get_untrusted_types

    with pytest.raises(UntrustedArtifact, match="never trusted") as refused:
        artifacts.loads(blob, get_untrusted_types(data=blob))  # a forged manifest listing every type
    assert refused.value.details["types"]
    assert refused.value.status == 503


def test_trust_is_exact_type_names_recorded_at_training():
    forest = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, Y)
    blob = artifacts.dumps(forest)
    recorded = artifacts.trusted_types(blob)
    assert recorded == ["sklearn.tree._tree.Tree"]
    assert (artifacts.loads(blob, recorded).predict(X) == forest.predict(X)).all()
    # A file whose types the manifest did not record: refused, even from a trusted library.
    with pytest.raises(UntrustedArtifact, match="did not record at training"):
        artifacts.loads(blob, [])
    # numpy ufuncs are skops' own defaults: nothing to record.
    assert artifacts.trusted_types(artifacts.dumps(FunctionTransformer(func=np.log1p))) == []


def test_types_outside_the_libraries_need_the_entrypoints_package():
    blob = artifacts.dumps(FunctionTransformer(func=Custom().predict))
    with pytest.raises(UntrustedArtifact, match="outside scikit-learn"):
        artifacts.trusted_types(blob)
    package = Custom.__module__.split(".")[0]
    recorded = artifacts.trusted_types(blob, artifacts.entrypoint_modules(f"{Custom.__module__}:factory"))
    assert recorded == [f"{package}.Custom", f"{package}.Custom.predict"]
    assert artifacts.loads(blob, recorded) is not None


@pytest.mark.parametrize(
    "entrypoint",
    [
        "builtins:eval",
        "operator:attrgetter",
        "functools:partial",
        "os:system",
        "sklearn.ensemble:HistGradientBoostingClassifier",
    ],
)
def test_an_entrypoint_never_widens_trust_to_the_never_list_or_the_libraries(entrypoint):
    assert artifacts.entrypoint_modules(entrypoint) == []


def test_a_damaged_file_is_an_artifact_error():
    with pytest.raises(artifacts.ArtifactError, match="not a readable skops archive"):
        artifacts.loads(b"not a skops file", [])


def test_a_model_is_loaded_once_per_content_and_trust_list(monkeypatch):
    blob = artifacts.dumps(DummyClassifier().fit([[0], [1]], [0, 1]))
    first = artifacts.loads(blob, [])
    monkeypatch.setattr(artifacts.sio, "loads", lambda *_, **__: pytest.fail("the same bytes were loaded again"))
    assert artifacts.loads(bytes(blob), []) is first  # the same content in another bytes object
    monkeypatch.undo()
    assert artifacts.loads(blob, ["tests.Custom"]) is not first  # another trust list: checked and loaded anew
    # Only the last two are kept: a challenger and a champion.
    others = [
        artifacts.loads(artifacts.dumps(DummyClassifier(constant=i, strategy="constant").fit([[0]], [i])), [])
        for i in range(2)
    ]
    assert artifacts.loads(blob, []) is not first and artifacts.loads(blob, []) is not others[0]
