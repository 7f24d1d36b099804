"""`mlrails check` end to end: read the data (a path or an S3 URI), assess it, print the
answer (a table or JSON), write the HTML report, return the exit code.

The only module of the check that touches files, S3 or streams; :mod:`.assess` is pure.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TextIO

import pandas as pd

from mlrails.config import ProjectConfig
from mlrails.data.dataset import read_table
from mlrails.errors import MlrailsError, StorageError, StorageNotFound
from mlrails.feasibility.assess import assess
from mlrails.feasibility.frame import CheckError
from mlrails.feasibility.options import CheckOptions
from mlrails.feasibility.report_html import render_html
from mlrails.feasibility.report_text import render_text
from mlrails.feasibility.verdicts import Report

EXIT_ERROR = 2


class StepProgress:
    """One stderr line per step, closed with its duration when the next step starts."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self._open_since = stream, None

    def __call__(self, message: str) -> None:
        self.close()
        self.stream.write(f"mlrails check: {message} …")
        self.stream.flush()
        self._open_since = time.perf_counter()

    def close(self) -> None:
        """End the open line with how long its step took."""
        if self._open_since is not None:
            self.stream.write(f" {time.perf_counter() - self._open_since:.1f} s\n")
            self.stream.flush()
        self._open_since = None


def read_data(data_uri: str) -> pd.DataFrame:
    """The table at a local path or ``s3://`` URI (CSV, CSV.gz or Parquet). Raises
    :class:`CheckError` when there is nothing readable there."""
    if data_uri.startswith("s3://"):
        from mlrails.adapters import s3  # boto3 only for S3 inputs

        try:
            body = s3.get_bytes(data_uri)
        except StorageNotFound as exc:
            raise CheckError(f"no data at {data_uri} ({exc.code})") from exc
        except StorageError as exc:
            raise CheckError(f"cannot read {data_uri}: {exc.code}") from exc
        key = s3.split_uri(data_uri)[1]
    else:
        path = Path(data_uri)
        try:
            body = path.read_bytes()
        except FileNotFoundError as exc:
            raise CheckError(f"no data file at {data_uri}") from exc
        except (IsADirectoryError, PermissionError) as exc:
            raise CheckError(f"cannot read {data_uri}: {exc.strerror}") from exc
        key = path.name
    return read_table(body, key)


def default_report_location(data_uri: str) -> str:
    """Beside a local file (``data.csv`` → ``data.check.html``); for S3 data, in the current
    directory: the check only reads a bucket (an object under raw/ would start the pipeline)."""
    name = PurePosixPath(data_uri).name
    stem = name.split(".")[0] or "data"
    if data_uri.startswith("s3://"):
        return f"{stem}.check.html"
    return str(Path(data_uri).with_name(f"{stem}.check.html"))


def write_report(location: str, html: str) -> None:
    """Write the HTML page to a path or an ``s3://`` URI."""
    if location.startswith("s3://"):
        from mlrails.adapters import s3

        try:
            s3.put_bytes(location, html.encode(), "text/html; charset=utf-8")
        except StorageError as exc:
            raise CheckError(f"cannot write the report to {location}: {exc}") from exc
        return
    try:
        Path(location).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise CheckError(f"cannot write the report to {location}: {exc.strerror}") from exc


def run_check(
    cfg: ProjectConfig,
    data_uri: str,
    out: TextIO | None = None,
    *,
    report: str | None = None,
    as_json: bool = False,
    options: CheckOptions | None = None,
    progress: TextIO | None = None,
) -> int:
    """Check ``data_uri`` against ``cfg``: print the verdicts to ``out`` (a table, or one
    JSON document), write the HTML page (``report``, else :func:`default_report_location`),
    and return the exit code: 0 when all three answers are "yes", 1 otherwise, 2 when the
    check could not run (the message is printed to ``progress``, no traceback). ``out`` and
    ``progress`` default to stdout and stderr."""
    out, progress = out or sys.stdout, progress or sys.stderr
    steps = StepProgress(progress)
    try:
        steps(f"reading {data_uri}")
        raw = read_data(data_uri)
        result: Report = assess(cfg, raw, data_uri, options, steps)
        location = report or default_report_location(data_uri)
        result = replace(result, report_uri=location)
        steps(f"writing {location}")
        write_report(location, render_html(result))
        steps.close()
    except MlrailsError as exc:
        steps.close()
        progress.write(f"mlrails: {exc.message}\n")
        return EXIT_ERROR
    out.write(json.dumps(result.to_dict(), indent=1, default=str) + "\n" if as_json else render_text(result))
    return result.exit_code
