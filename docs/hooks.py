"""MkDocs hooks: the reference pages are rendered from the code at build time (the config
models, the CLI's parser, the OpenAPI document, the event schemas, the cost model's prices), so no hand-kept table can
drift from what the kit accepts and emits. Nothing generated is written to ``docs/``."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import typing
from pathlib import Path

from mkdocs.structure.files import File, Files
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

import mlrails
from mlrails import events, openapi
from mlrails.cli import build_parser
from mlrails.config import ProjectConfig, load_config
from mlrails.cost.prices import HOURS_PER_MONTH, NOTE, PRICES, REGION, TAKEN

EXAMPLE = Path(__file__).resolve().parents[1] / "mlrails.yaml"


def on_files(files: Files, config) -> Files:
    for uri, content in (
        ("reference/config.md", config_reference()),
        ("reference/cli.md", cli_reference()),
        ("reference/openapi.md", openapi_reference()),
        ("reference/events.md", events_reference()),
        ("reference/prices.md", prices_reference()),
    ):
        files.append(File.generated(config, uri, content=content))
    return files


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment lines right above each field (and a trailing one), from the model's source."""
    found, pending = {}, []
    for line in inspect.getsource(model).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("# ").strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and match.group(1) in model.model_fields:
            trailing = stripped.split("  # ", 1)[1] if "  # " in stripped else ""
            found[match.group(1)] = " ".join([*pending, trailing]).strip()
        pending = []
    return found


def _type_name(annotation: object) -> str:
    text = str(annotation).replace("typing.", "")
    text = re.sub(r"<class '([\w.]+)'>", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return re.sub(r"mlrails\.[\w.]+\.", "", text)


def _default(field) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        return "(section)"
    return f"`{json.dumps(value, default=str)}`"


def _nested(annotation: object) -> type[BaseModel] | None:
    """The section model inside ``annotation`` (a model, or one in a dict, tuple or union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _nested(argument)
        if found is not None:
            return found
    return None


def config_reference() -> str:
    lines = [
        "# Configuration reference",
        "",
        "Every key of `mlrails.yaml`, rendered from the config models (`src/mlrails/config/`) "
        "when the site is built. Unknown keys are errors. The example project's file:",
        "",
        '```yaml\n--8<-- "mlrails.yaml"\n```',
        "",
    ]
    seen: set[type] = set()

    def section(model: type[BaseModel], path: str) -> None:
        if model in seen:
            return
        seen.add(model)
        comments = _comments(model)
        lines.extend([f"## `{path}`" if path else "## The top level", ""])
        if model.__doc__ and model is not ProjectConfig:
            lines.extend([inspect.cleandoc(model.__doc__), ""])
        lines.extend(["| key | type | default | notes |", "| --- | --- | --- | --- |"])
        children = []
        for name, field in model.model_fields.items():
            note = comments.get(name, "").replace("|", "\\|")
            lines.append(f"| `{name}` | `{_type_name(field.annotation)}` | {_default(field)} | {note} |")
            child = _nested(field.annotation)
            if child is not None:
                children.append((child, f"{path}.{name}" if path else name))
        lines.append("")
        for child, child_path in children:
            section(child, child_path)

    section(ProjectConfig, "")
    load_config(EXAMPLE)  # the example above is valid, or the build fails
    return "\n".join(lines) + "\n"


def cli_reference() -> str:
    parser = build_parser()
    lines = ["# CLI reference", "", "Rendered from `mlrails.cli.build_parser()` when the site is built.", ""]
    lines.extend(["```text", parser.format_help().rstrip(), "```", ""])
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        lines.extend([f"## `mlrails {name}`", "", "```text", sub.format_help().rstrip(), "```", ""])
    return "\n".join(lines)


def openapi_reference() -> str:
    document = openapi.document(load_config(EXAMPLE), mlrails.__version__)
    lines = [
        "# OpenAPI document",
        "",
        "What `GET /openapi.json` answers for the example project, rendered from `mlrails.openapi` "
        "when the site is built (your project's schema replaces the example's columns).",
        "",
        "## Operations",
        "",
        "| method | path | what | request body | responses |",
        "| --- | --- | --- | --- | --- |",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = ", ".join(f"`{kind}`" for kind in operation.get("requestBody", {}).get("content", {})) or "—"
            answers = "<br>".join(
                f"**{code}** {response['description']}" for code, response in operation["responses"].items()
            )
            lines.append(f"| `{method.upper()}` | `{path}` | {operation['summary']} | {body} | {answers} |")
    for name, schema in document["components"]["schemas"].items():
        required = set(schema.get("required", []))
        lines.extend(["", f"## `{name}`", "", "| field | type | required |", "| --- | --- | --- |"])
        for field, spec in schema.get("properties", {}).items():
            kind = spec.get("type", "any") + (" or null" if spec.get("nullable") else "")
            lines.append(f"| `{field}` | {kind} | {'yes' if field in required else 'no'} |")
    lines.extend(["", "## The document", "", "```json", json.dumps(document, indent=2, sort_keys=True), "```", ""])
    return "\n".join(lines)


def events_reference() -> str:
    lines = [
        "# Event schemas",
        "",
        "The `detail` of every event on the project bus (source `mlrails`), rendered from "
        "`mlrails.events` when the site is built. Every detail also carries `schema_version`.",
        "",
    ]
    for detail_type, cls in sorted(events.schemas().items()):
        lines.extend([f"## `{detail_type}`", "", "| field | type |", "| --- | --- |"])
        for field in dataclasses.fields(cls):
            lines.append(f"| `{field.name}` | `{field.type}` |")
        lines.append("")
    return "\n".join(lines)


def prices_reference() -> str:
    lines = [
        "# Price table",
        "",
        f"The prices `mlrails cost` applies: {REGION} on-demand list prices in USD, taken on "
        f"{TAKEN.isoformat()}, rendered from `mlrails.cost.prices` when the site is built. A month is "
        f"{HOURS_PER_MONTH} hours. {NOTE}",
        "",
        "| price | USD | per | service | checked |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, price in PRICES.items():
        usd = f"{price.usd:.10f}".rstrip("0").rstrip(".")
        lines.append(f"| `{key}` | {usd} | {price.unit} | [{price.service}]({price.source}) | {price.checked} |")
    return "\n".join(lines) + "\n"
