"""Shared fixtures: the example config, moto with the project's resources, handlers and events."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from mlrails.config import ProjectConfig, load_config
from support.samples import REPO, SAMPLE_ID_KEY, load_event

# One thread per native pool (OpenMP in scikit-learn's histogram boosting, OpenBLAS, ONNX
# Runtime's): the suite runs a worker per core, and pools sized to every core in each worker
# oversubscribe the machine (a histogram-boosting fit took seven times longer). The pools read
# these once, as numpy and scikit-learn load, which none of the imports above does; workers,
# and the processes they spawn, inherit them.
for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_pool, "1")

# Temporary files in memory where the machine has a memory filesystem: the MLflow SQLite stores
# the tests train into sync to disk on every commit (about 5 s of waiting per training run).
# An explicit TMPDIR wins; processes the tests spawn inherit it.
_MEMORY = Path("/dev/shm")
if "TMPDIR" not in os.environ and _MEMORY.is_dir() and os.access(_MEMORY, os.W_OK):
    os.environ["TMPDIR"] = str(_MEMORY)
    tempfile.tempdir = None  # read TMPDIR again at the next gettempdir()

# The synthesized app's fixtures, for the infra and packaging tiers (imports the CDK lazily).
pytest_plugins = ["support.synth"]

# Modules that read the session's synthesized app: on one worker, so it is built once.
_SYNTH_SCOPE = "synth"
_SYNTH_USERS = ("tests/infra/", "tests/packaging/test_inference_package.py")


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under `make test` (pytest-xdist) a module's tests run on one worker, so its module
    fixtures are built once (as --dist loadscope does), and the infra tests all run on one
    worker with the packaging test that reads it, so the session's synthesized app (~20 s) is
    built once, not once per worker."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return _SYNTH_SCOPE if module.startswith(_SYNTH_USERS) else module

    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def cfg() -> ProjectConfig:
    """The example project config shipped at the repository root."""
    return load_config(REPO / "mlrails.yaml")


@pytest.fixture
def restore_environ():
    """The local runtime sets each function's environment as it invokes it, and the handlers
    cache their settings: put both back after the test."""
    from mlrails.adapters import deployed

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    deployed.reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    """moto in-process, started before any client exists, with fake credentials."""
    from moto import mock_aws

    from mlrails.adapters import deployed

    for name in ("AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    deployed.reset()
    with mock_aws():
        yield
    deployed.reset()


@pytest.fixture
def cloud(aws, cfg: ProjectConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The project's resources on moto and the functions' environment, as deployed.

    Returns the resource names. MLflow tracks to a SQLite file in ``tmp_path`` with its
    artifacts in the (mocked) artifacts bucket."""
    from mlrails.adapters.clients import client
    from mlrails.local.cloud import (
        create_drift_fanout,
        create_release_store,
        create_resources,
        create_tracking_server,
        local_names,
        prediction_id_secret,
        release_bucket,
    )
    from mlrails.wiring import FUNCTIONS, function_environment

    names = local_names(cfg)
    state_machine = create_resources(cfg, names)
    create_release_store(release_bucket(cfg))
    # The key the sample events' prediction ids are signed with (events/inference_feedback.json).
    client("secretsmanager").put_secret_value(SecretId=prediction_id_secret(names), SecretString=SAMPLE_ID_KEY)
    # The feedback API is the one the sample feedback event came through.
    environment = function_environment(
        cfg,
        "test",
        names,
        FUNCTIONS[0],
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        training_state_machine=state_machine,
        prediction_id_secret=prediction_id_secret(names),
        feedback_api_id=load_event("inference_feedback")["requestContext"]["apiId"],
        release_store=release_bucket(cfg),
        tracking_server=create_tracking_server(names),
        drift_state_machine=create_drift_fanout(cfg, "test"),
    )
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("MLRAILS_MANIFEST_TTL_SECONDS", "0")
    return names


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch):
    """Load ``functions/<name>/handler.py`` fresh (a cold container), as Lambda does: by path."""

    def load(name: str) -> ModuleType:
        monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", name.replace("_", "-"))
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", f"test-{name}")
        spec = importlib.util.spec_from_file_location(f"handler_{name}", REPO / "functions" / name / "handler.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def lambda_context():
    """A Lambda context: the local runtime's, which carries what Powertools reads."""
    from mlrails.local.invoker import LocalContext

    return LocalContext("test-function", memory_limit_in_mb=1024, timeout_seconds=300)


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite store with its tables created once: creating them costs ~4 s
    per file, copying a migrated file costs nothing."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    path = folder / "mlflow.db"
    SqlAlchemyStore(f"sqlite:///{path}", str(folder / "artifacts"))
    return path


@pytest.fixture
def mlflow_db(cloud, tmp_path: Path, _mlflow_template: Path) -> str:
    """The tracking store the ``cloud`` fixture points MLFLOW_TRACKING_URI at, tables ready."""
    target = tmp_path / "mlflow.db"
    shutil.copyfile(_mlflow_template, target)
    return f"sqlite:///{target}"
