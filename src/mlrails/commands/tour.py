"""`mlrails demo --release`: a model's way from dev to prod, run with the very commands a person
and the release pipeline run, on local copies of the three environments (each with its own
state, MLflow store and moto account), in a scratch git repository of the project under
.mlrails/release-tour/ (the project itself is left as it is).

dev trains and the gate promotes → a lock is proposed and committed → staging applies it and
passes the smoke test → dev swaps the real model in and a second lock is committed → staging
takes it → a tampered store file and a lock prod's config does not accept are refused → prod
applies it → reverting the lock's commit brings the previous model back.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrails.config import ProjectConfig
from mlrails.errors import ConfigError
from mlrails.local.synthetic import churn_frame
from mlrails.promotion.lock import read_lock, release_key

REAL_MODEL = "mlrails.models:gradient_boosting"
# A feature the models never saw: a config that adds it does not accept their locks.
UNSEEN_FEATURE = "    - {name: contract, type: categorical}\n"


class _Tour:
    def __init__(self, project: Path, run: Callable[[list[str]], int]) -> None:
        self.project, self._run, self.failures = project, run, 0

    def say(self, text: str) -> None:
        print(text, flush=True)

    def mlrails(self, *argv: str, expect: int = 0) -> None:
        """Run a command as typed (its output is the command's own)."""
        self.say(f"\n$ mlrails {' '.join(argv)}")
        code = self._run([*argv, "--config", str(self.project / "mlrails.yaml")])
        if code != expect:
            self.failures += 1
            self.say(f"  !! exit status {code}, expected {expect}")

    def git(self, *argv: str) -> str:
        self.say(f"\n$ git {' '.join(argv)}")
        author = ["-c", "user.email=tour@mlrails.local", "-c", "user.name=mlrails tour"]
        done = subprocess.run(["git", *author, *argv], cwd=self.project, capture_output=True, text=True, check=True)
        return done.stdout

    def edit(self, replace: str, with_: str) -> str:
        """Change the config; returns the text before."""
        path = self.project / "mlrails.yaml"
        before = path.read_text()
        path.write_text(before.replace(replace, with_, 1))
        return before


def release_tour(cfg: ProjectConfig, project_dir: Path, run: Callable[[list[str]], int]) -> int:
    """Run the tour; ``run(argv)`` runs one `mlrails` command in this process. Returns 0 when
    every command answered as expected."""
    if shutil.which("git") is None:
        raise ConfigError("the release tour commits and reverts locks: it needs git on the PATH")
    sources = [n for n in cfg.environments if cfg.models_source(n) == "train"]
    targets = [n for n in cfg.environments if cfg.models_source(n) == "release"]
    if not sources or len(targets) < 2:
        raise ConfigError("the release tour needs a `models: train` environment and two `models: release` ones")
    dev, staging, prod = sources[0], targets[0], targets[-1]
    began = time.monotonic()
    project = project_dir / ".mlrails" / "release-tour"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copy(project_dir / "mlrails.yaml", project / "mlrails.yaml")
    (project / ".gitignore").write_text(".mlrails/\n")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7)
    churn_frame(3000, start - timedelta(days=7), seed=1, span=timedelta(days=7)).to_csv(
        project / "customers.csv", index=False
    )
    tour = _Tour(project, run)
    tour.say(f"mlrails demo --release: {dev} → {staging} → {prod}, by a lock in git, in {project}")
    tour.git("init", "-q")
    tour.git("add", "-A")
    tour.git("commit", "-qm", "the project")

    tour.say(f"\n1. {dev} trains, and its gate promotes")
    at = f"{start:%Y-%m-%dT%H:%M:%S}+00:00"
    for env in (dev, staging, prod):
        tour.mlrails("up", "--env", env, "--at", at)
    tour.mlrails("upload", "--env", dev, str(project / "customers.csv"))

    tour.say(f"\n2. The lock of {dev}'s champion, proposed and merged: the promotion")
    tour.mlrails("release", "propose", "--from", dev, "--local")
    tour.git("add", "release")
    tour.git("commit", "-qm", f"release: {dev}'s champion")
    first = tour.git("rev-parse", "--short", "HEAD").strip()

    tour.say(f"\n3. The pipeline's post-steps on {staging}: apply, smoke test, and apply again (nothing to do)")
    tour.mlrails("release", "apply", "--env", staging, "--local")
    tour.mlrails("release", "verify", "--env", staging, "--local")
    tour.mlrails("release", "apply", "--env", staging, "--local")

    tour.say(f"\n4. The real model swapped in on {dev}, retrained, gated, and its lock merged")
    tour.edit(f"entrypoint: {cfg.model.entrypoint}", f"entrypoint: {REAL_MODEL}")
    tour.mlrails("advance", "--env", dev, "1d")
    tour.mlrails("upload", "--env", dev, str(project / "customers.csv"))
    tour.mlrails("release", "propose", "--from", dev, "--local")
    tour.git("commit", "-qam", f"release: {dev}'s real model")
    tour.mlrails("release", "apply", "--env", staging, "--local")

    lock = read_lock(project, cfg.model.name)
    if lock is None:
        raise ConfigError("no lock was proposed: see the output above")
    tour.say(f"\n5. {prod} refuses a store file that is not the one the lock pins (and counts it, for the alarm)")
    stored = project / ".mlrails" / "release-store" / release_key(lock.files["model.skops"])
    original = stored.read_bytes()
    stored.write_bytes(original + b"\x00")
    tour.mlrails("release", "apply", "--env", prod, "--local", expect=2)
    stored.write_bytes(original)

    tour.say(f"\n6. {prod} refuses a lock its config does not accept (a feature the model never saw)")
    last_feature = f"    - {{name: {cfg.dataset.features[-1].name}, type: {cfg.dataset.features[-1].type}}}\n"
    config = tour.edit(last_feature, last_feature + UNSEEN_FEATURE)
    tour.mlrails("release", "apply", "--env", prod, "--local", expect=2)
    (project / "mlrails.yaml").write_text(config)

    tour.say(f"\n7. {prod} takes the lock: a person approved the stage in the pipeline")
    tour.mlrails("release", "apply", "--env", prod, "--local")
    tour.mlrails("release", "verify", "--env", prod, "--local")

    tour.say(f"\n8. Reverting the lock's commit is the rollback: {staging} and {prod} serve {first}'s model again")
    tour.git("revert", "--no-edit", "HEAD")
    for env in (staging, prod):
        tour.mlrails("release", "apply", "--env", env, "--local")
        tour.mlrails("release", "verify", "--env", env, "--local")
    tour.mlrails("models", "--env", staging, "--local")

    tour.say(
        f"\nDone in {time.monotonic() - began:.0f} s, {tour.failures} unexpected exit status(es). "
        f"The tour's project, its locks and git history: {project}"
    )
    return 1 if tour.failures else 0
