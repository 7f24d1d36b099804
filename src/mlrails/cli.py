"""The `mlrails` command."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mlrails.config import load_config
from mlrails.errors import ConfigError


def _demo(args: argparse.Namespace) -> int:
    from mlrails.demo import run_demo

    return run_demo(load_config(args.config), Path.cwd(), sys.stdout)


def _predict(args: argparse.Namespace) -> int:
    from mlrails.local.runtime import LocalRuntime

    cfg = load_config(args.config)
    with LocalRuntime(cfg, Path.cwd(), start=datetime.now(UTC), fresh=False) as runtime:
        if not runtime.cloud.restore_snapshot():
            print("no local state yet: run `mlrails demo` first", file=sys.stderr)
            return 2
        status, answer = runtime.request("POST", "/invocations", args.body.encode(), args.content_type)
    print(json.dumps({"status": status, "body": answer}, indent=1))
    return 0 if status == 200 else 1


def _generate(args: argparse.Namespace) -> int:
    from mlrails.synthetic import churn_frame

    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    frame = churn_frame(args.rows, start.replace(tzinfo=start.tzinfo or UTC), seed=args.seed, drift=args.drift,
                        span=timedelta(days=args.days), with_target=not args.no_target)
    if args.output.endswith(".parquet"):
        frame.to_parquet(args.output, index=False)
    else:
        frame.to_csv(args.output, index=False)
    print(f"wrote {len(frame):,} rows (drift {args.drift}) to {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlrails", description=__doc__)
    parser.add_argument("--config", default="mlrails.yaml", help="the project config (default: mlrails.yaml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run the whole lifecycle locally (moto + local MLflow)").set_defaults(run=_demo)
    predict = commands.add_parser("predict", help="score a request body with the champion `mlrails demo` left")
    predict.add_argument("body", help="a request body, e.g. '{\"dataframe_records\": [...]}'")
    predict.add_argument("--content-type", default="application/json")
    predict.set_defaults(run=_predict)
    generate = commands.add_parser("generate", help="write synthetic churn data for the example config")
    generate.add_argument("output", help="a .csv or .parquet path")
    generate.add_argument("--rows", type=int, default=1000)
    generate.add_argument("--days", type=float, default=1.0, help="time span the rows cover")
    generate.add_argument("--start", help="ISO time of the first row (default: now)")
    generate.add_argument("--drift", type=float, default=0.0, help="0 (training population) to 1 (fully shifted)")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--no-target", action="store_true", help="leave out the label (serving traffic)")
    generate.set_defaults(run=_generate)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"mlrails: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
