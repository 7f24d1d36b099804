"""The commands about the project itself: find its config (and make its folder importable),
write one from a data file (`init`), check feasibility (`check`), make example data (`generate`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrails.config import ProjectConfig, load_config
from mlrails.errors import ConfigError

CONFIG_FILE = "mlrails.yaml"


def find_config(start: Path) -> Path:
    """The project's config: ``mlrails.yaml`` in ``start`` or the nearest folder above it, as
    git and cdk find theirs. Raises :class:`ConfigError` when there is none."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder / CONFIG_FILE
    raise ConfigError(
        f"no {CONFIG_FILE} in {start} or any folder above it: run mlrails from your project, or pass --config"
    )


def load_project(args: argparse.Namespace) -> tuple[ProjectConfig, Path]:
    """The config and the project's folder (where it is: local state lives in its .mlrails/),
    with the folder importable, so that ``model.entrypoint`` can name the project's own
    modules (``models:my_model``) wherever the command is run from."""
    path = Path(args.config) if args.config else find_config(Path.cwd())
    project_dir = path.resolve().parent
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    return load_config(path), project_dir


def generate(args: argparse.Namespace) -> int:
    from mlrails.local.synthetic import churn_frame

    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    frame = churn_frame(
        args.rows,
        start.replace(tzinfo=start.tzinfo or UTC),
        seed=args.seed,
        drift=args.drift,
        span=timedelta(days=args.days),
        with_target=not args.no_target,
    )
    if args.output.endswith(".parquet"):
        frame.to_parquet(args.output, index=False)
    else:
        frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame):,} rows (drift {args.drift}) to {args.output}")
    return 0


def check(args: argparse.Namespace) -> int:
    from mlrails.feasibility import CheckOptions, run_check  # scikit-learn: only this command pays for it

    try:
        options = CheckOptions(sample_rows=args.sample_rows, folds=args.folds, serving_overhead_ms=args.overhead_ms)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return run_check(load_project(args)[0], args.data, sys.stdout, report=args.out, as_json=args.json, options=options)


def init(args: argparse.Namespace) -> int:
    from mlrails.scaffold.init import init_project

    folder = Path(args.dir)
    created = init_project(
        args.data, folder, target=args.target, timestamp=args.timestamp, task=args.task, force=args.force
    )
    found = created.inferred
    print(f"mlrails init: a {found.task} project in {folder}/ from {args.data} ({found.rows:,} rows)\n")
    print(f"  target     {found.target}: {found.reasons['target']}; {found.task}: {found.reasons['task']}")
    print(f"  timestamp  {found.timestamp or '(none)'}: {found.reasons['timestamp']}")
    for column in found.features:
        print(f"  feature    {column.name}: {column.type}{', nullable' if column.nullable else ''} ({column.why})")
    print("\nwrote:")
    for path in created.written:
        print(f"  {path}")
    print("\ncheck by hand:")
    for line in [
        *found.checks,
        "the lines marked CHECK in mlrails.yaml (task, target, features known at prediction time, label delay)",
        "use_case and value.minimum in mlrails.yaml, then `mlrails check --data " + args.data + "`",
        "alarm_email in environments.dev before anyone relies on the deployment",
        "deploying: `cdk deploy` from the folder builds the train image with models.py in it (Docker needed)",
    ]:
        print(f"  - {line}")
    print(f"\nnext: cd {folder} && pytest   (trains models.py on {created.written[-1].name} and judges it)")
    return 0
