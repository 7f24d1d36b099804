"""The HTML report: one self-contained page (inline SVG and CSS, no scripts, nothing fetched)
with the learning curve, missing rates, the label, each leakage suspect and the drift."""

from __future__ import annotations

import json
from html import escape
from typing import Any

from mlrails.feasibility.verdicts import Answer, Report
from mlrails.reports.charts import bar_chart, line_chart
from mlrails.reports.page import page


def _findings(answer: Answer) -> str:
    if not answer.findings:
        return "<p class=muted>no findings</p>"
    items = "".join(f"<li class={f.severity}><b>{f.severity}</b> — {escape(f.message)}</li>" for f in answer.findings)
    return f"<ul class=findings>{items}</ul>"


def _table(rows: list[tuple[str, Any]]) -> str:
    body = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape('—' if v in (None, '') else str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def _data_section(answer: Answer) -> str:
    evidence = answer.evidence
    flagged = {f.column for f in answer.findings if f.code == "missing_values"}
    missing = evidence.get("missing_rate", {})
    parts = [
        _table(
            [
                ("rows", f"{evidence['rows']:,} (minimum {evidence['min_rows']:,})"),
                (
                    "time coverage",
                    f"{evidence['coverage_days']} days, {evidence['first']} → {evidence['last']} "
                    f"(minimum {evidence['min_coverage_days'] or 'not set'})",
                ),
                ("duplicate rows", evidence.get("duplicate_rows")),
            ]
        ),
        _findings(answer),
        "<h3>Missing values per column</h3>",
        bar_chart(list(missing), list(missing.values()), maximum=max([*missing.values(), 0.05]))
        if not flagged
        else bar_chart(
            list(missing),
            list(missing.values()),
            alert_at=min(missing[c] for c in flagged),
            maximum=max([*missing.values(), 0.05]),
        ),
    ]
    label = evidence.get("label")
    parts.append("<h3>Label</h3>")
    if label is None:
        parts.append("<p class=no>no labels</p>")
    elif label["kind"] == "classes":
        counts = label["counts"]
        parts.append(bar_chart(list(counts), list(counts.values()), fmt="{:,.0f}"))
    else:
        histogram = label["histogram"]
        edges = histogram["edges"]
        names = [f"{edges[i]:.3g} – {edges[i + 1]:.3g}" for i in range(len(edges) - 1)]
        parts.append(bar_chart(names, histogram["counts"], fmt="{:,.0f}"))
        parts.append(_table([(k, f"{v:.4g}") for k, v in label["quantiles"].items()]))
    leakage = evidence.get("leakage") or {}
    if leakage.get("single_feature"):
        scores = leakage["single_feature"]
        parts.append(
            f"<h3>Leakage: each feature alone ({escape(leakage['metric'].replace('_', ' '))}, "
            f"suspect at ≥ {leakage['threshold']:g})</h3>"
        )
        parts.append(
            bar_chart(
                list(scores),
                list(scores.values()),
                threshold=leakage["threshold"],
                maximum=1.0,
                fmt="{:.3f}",
                alert_at=leakage["threshold"],
            )
        )
    for suspect in leakage.get("suspects", []):
        profile = suspect["profile"]
        parts.append(
            f"<h3>Leakage suspect <code>{escape(suspect['column'])}</code>: score {suspect['score']:.3f} "
            "— the label by its values (share of the rarest class, or the mean)</h3>"
        )
        parts.append(
            bar_chart(
                [f"{p['group']} ({p['rows']:,})" for p in profile],
                [p["outcome"] for p in profile],
                fmt="{:.3f}",
                maximum=max([p["outcome"] for p in profile] + [1e-9]),
            )
        )
    drift = evidence.get("drift")
    if drift:
        parts.append(f"<h3>Drift, oldest third vs newest third (PSI, threshold {drift['threshold']:g})</h3>")
        parts.append(
            bar_chart(
                list(drift["psi"]),
                list(drift["psi"].values()),
                threshold=drift["threshold"],
                fmt="{:.3f}",
                alert_at=drift["threshold"],
                maximum=max([*drift["psi"].values(), drift["threshold"] * 1.5]),
            )
        )
    return "".join(parts)


def _action_section(answer: Answer) -> str:
    evidence = answer.evidence
    serving = evidence["serving"]
    rows = [
        ("consumer", evidence["consumer"]),
        ("decision", evidence["decision"]),
        ("action", evidence["action"]),
        ("latency", evidence["latency"]),
        ("needs (ms)", evidence["need_ms"]),
        ("model, measured (ms)", serving["model_ms"]),
        ("gateway and Lambda (ms)", f"{serving['overhead_ms']:g} — {serving['overhead_source']}"),
        ("serving path delivers (ms)", serving.get("total_ms")),
    ]
    return _table(rows) + _findings(answer)


def _value_section(answer: Answer) -> str:
    evidence = answer.evidence
    parts = []
    quick = evidence.get("quick_model")
    if quick:
        parts.append(
            _table(
                [
                    ("metric", evidence["metric"]),
                    ("minimum", evidence["minimum"]),
                    ("margin", evidence["margin"]),
                    ("placeholder baseline", evidence["baseline"]),
                    (
                        "quick model",
                        f"{quick['score']} ± {quick['std']} — {quick['entrypoint']}, "
                        f"{quick['folds']}-fold CV on {quick['rows']:,} rows",
                    ),
                ]
            )
        )
    worth = evidence.get("business_value")
    if worth:
        unit = evidence.get("unit") or ""
        parts.append(
            "<h3>Business value</h3>" + _table([(k.replace("_", " "), f"{v:,.2f} {unit}") for k, v in worth.items()])
        )
    parts.append(_findings(answer))
    curve = evidence.get("learning_curve")
    if curve:
        levels = [("baseline", evidence["baseline"], "#888")]
        if evidence.get("minimum") is not None:
            levels.append(("minimum", evidence["minimum"], "#c0392b"))
        parts.append(f"<h3>Learning curve: {escape(evidence['metric'])} by training rows (± one std over folds)</h3>")
        parts.append(
            line_chart(
                [p["rows"] for p in curve],
                [p["score"] for p in curve],
                [p["std"] for p in curve],
                levels=levels,
                x_label="training rows",
                y_label=evidence["metric"],
            )
        )
    return "".join(parts)


def render_html(report: Report) -> str:
    """The whole page, as a string."""
    cards = "".join(
        f"<div class=card><div>{i}. {escape(a.title)}</div><div class='verdict {a.verdict}'>{a.verdict}</div>"
        f"<div>{escape(a.summary)}</div></div>"
        for i, a in enumerate(report.answers, 1)
    )
    sections = {"data": _data_section, "action": _action_section, "value": _value_section}
    body = "".join(
        f"<h2>{i}. {escape(a.title)} <span class={a.verdict}>{a.verdict}</span></h2>{sections[a.question](a)}"
        for i, a in enumerate(report.answers, 1)
    )
    document = escape(json.dumps(report.to_dict(), indent=1, default=str))
    return page(
        f"mlrails check · {report.project}",
        f"<h1>mlrails check · {escape(report.project)}</h1>"
        f"<p class=muted>{escape(report.data_uri)} · {report.rows:,} rows · exit code {report.exit_code}</p>"
        f"<div class=cards>{cards}</div>{body}"
        f"<h2>The same, as JSON</h2><details><summary>mlrails check --json</summary><pre>{document}</pre></details>",
    )
