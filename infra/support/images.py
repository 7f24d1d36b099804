"""What image functions build from. The kit's own project builds from the checkout, through
its .dockerignore allowlist. A project elsewhere (`mlrails init`, its cdk.json running this
app) needs its model entrypoint's module in the train image too: the app stages a copy of the
same allowlisted files plus that module under project/, and the Dockerfile copies project/
into the task root (build argument PROJECT_MODULES)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from infra.support.paths import IMAGE_CONTEXT_DIR, REPO_ROOT, image_build_args
from mlrails.errors import ConfigError

# Under the project's folder, rebuilt at every synth (`mlrails init` ignores it in git).
STAGED_CONTEXT = ".image-context"
PROJECT_MODULES = "project"
KIT_PACKAGE = "mlrails"  # in every image already


@dataclass(frozen=True)
class ImageSource:
    context: Path
    extra_args: dict[str, str] = field(default_factory=dict)

    def build_args(self, function_name: str) -> dict[str, str]:
        """The build arguments of ``function_name``'s image."""
        return {**image_build_args(function_name), **self.extra_args}


KIT_IMAGE = ImageSource(IMAGE_CONTEXT_DIR)


def _allowlist() -> list[str]:
    """The checkout paths .dockerignore lets in (its ``!`` entries)."""
    lines = (IMAGE_CONTEXT_DIR / ".dockerignore").read_text().splitlines()
    return [line[1:].rstrip("/") for line in lines if line.startswith("!")]


def project_image(project_dir: Path, entrypoint: str) -> ImageSource:
    """The image source for the project in ``project_dir`` whose ``model.entrypoint`` is
    ``entrypoint``: the checkout for the kit's own, else a staged context with the
    entrypoint's top-level module (``models.py``) or package (``my_project/``) in project/.
    An entrypoint importable from the kit itself (``mlrails.models:...``) ships nothing more."""
    project_dir = project_dir.resolve()
    top = entrypoint.partition(":")[0].split(".")[0]
    if project_dir == REPO_ROOT or top == KIT_PACKAGE:
        return KIT_IMAGE
    module = next((p for p in (project_dir / f"{top}.py", project_dir / top) if p.exists()), None)
    if module is None:
        # The image would build, and every training run would then fail to import the model.
        raise ConfigError(
            f"model.entrypoint '{entrypoint}': no {top}.py or {top}/ in {project_dir}, beside the config: "
            "the train image carries the project's own module, so it must be there"
        )
    stage = project_dir / STAGED_CONTEXT
    shutil.rmtree(stage, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for relative in _allowlist():
        source, target = IMAGE_CONTEXT_DIR / relative, stage / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target)
    modules = stage / PROJECT_MODULES
    modules.mkdir()
    if module.is_dir():
        shutil.copytree(module, modules / module.name, ignore=ignore)
    else:
        shutil.copy2(module, modules / module.name)
    dockerignore = (IMAGE_CONTEXT_DIR / ".dockerignore").read_text()
    (stage / ".dockerignore").write_text(f"{dockerignore.rstrip()}\n!{PROJECT_MODULES}/\n")
    return ImageSource(stage, {"PROJECT_MODULES": PROJECT_MODULES})
