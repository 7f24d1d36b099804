"""The terminal answer: a short table of the three questions, then the top findings."""

from __future__ import annotations

from mlrails.feasibility.verdicts import Report

_MARK = {"blocker": "✗", "warning": "!", "info": "·"}


def render_text(report: Report) -> str:
    """A few lines a person reads in a terminal or a CI log."""
    data = report.answer("data").evidence
    lines = [
        f"mlrails check · {report.project} · {report.data_uri} "
        f"({report.rows:,} rows over {data.get('coverage_days', 0):.1f} days)",
        "",
    ]
    width = max(len(a.title) for a in report.answers)
    for number, answer in enumerate(report.answers, 1):
        lines.append(f"  {number}. {answer.title:<{width}}  {answer.verdict.upper():<7}  {answer.summary}")
    findings = report.top_findings()
    if findings:
        lines += ["", "findings:"]
        lines += [f"  {_MARK[f.severity]} {f.message}" for f in findings]
    hidden = sum(len(a.findings) for a in report.answers) - len(findings)
    if hidden > 0:
        lines.append(f"  … and {hidden} more in the report")
    verdict = (
        "all three answers are yes: go ahead and model"
        if report.passed
        else "not all answers are yes: modeling is premature"
    )
    lines += ["", f"{verdict} (exit {report.exit_code}) · report: {report.report_uri} · {report.seconds:.1f} s", ""]
    return "\n".join(lines)
