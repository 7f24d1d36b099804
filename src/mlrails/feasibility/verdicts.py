"""The check's answer: three questions, a verdict each, and the findings behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Verdict = Literal["yes", "no", "unknown"]
Severity = Literal["blocker", "warning", "info"]

SCHEMA_VERSION = "1"
QUESTIONS = {
    "data": "Is the right data available?",
    "action": "Is there a path to action?",
    "value": "Is it still worth it at lower accuracy?",
}
_SEVERITY_ORDER = {"blocker": 0, "warning": 1, "info": 2}
_LEAKS_FIRST = ("leakage_suspect", "not_available_at_prediction")  # the finding a reader must not miss


@dataclass(frozen=True)
class Finding:
    """One observation; ``message`` names the column and the number."""

    code: str  # machine-readable: "missing_values", "leakage_suspect", ...
    severity: Severity  # a blocker makes its question's verdict "no"
    message: str
    column: str | None = None
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Answer:
    """One question's verdict, a one-line summary, its findings and the numbers behind them."""

    question: str  # "data" | "action" | "value"
    verdict: Verdict
    summary: str
    findings: tuple[Finding, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The question as a person asks it."""
        return QUESTIONS[self.question]


@dataclass(frozen=True)
class Report:
    """Everything the terminal table, ``--json`` and the HTML page show."""

    project: str
    data_uri: str
    rows: int
    columns: list[str]
    answers: tuple[Answer, ...]
    seconds: float = 0.0
    report_uri: str | None = None

    @property
    def verdicts(self) -> dict[str, Verdict]:
        """Question → verdict."""
        return {a.question: a.verdict for a in self.answers}

    @property
    def passed(self) -> bool:
        """All three questions answered "yes": modeling is not premature."""
        return all(v == "yes" for v in self.verdicts.values())

    @property
    def exit_code(self) -> int:
        """0 when every verdict is "yes", 1 otherwise (2 is kept for "could not check")."""
        return 0 if self.passed else 1

    def answer(self, question: str) -> Answer:
        """The answer to ``question`` ("data", "action" or "value")."""
        return next(a for a in self.answers if a.question == question)

    def top_findings(self, limit: int = 8) -> list[Finding]:
        """Blockers first, then warnings; info only when nothing else is to be said."""
        ranked = sorted(
            (f for a in self.answers for f in a.findings),
            key=lambda f: (_SEVERITY_ORDER[f.severity], f.code not in _LEAKS_FIRST),
        )
        shown = [f for f in ranked if f.severity != "info"] or ranked
        return shown[:limit]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document (stable keys; ``schema_version`` changes when they do)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "project": self.project,
            "data": {"uri": self.data_uri, "rows": self.rows, "columns": self.columns},
            "passed": self.passed,
            "exit_code": self.exit_code,
            "verdicts": self.verdicts,
            "questions": [
                {
                    "id": a.question,
                    "question": a.title,
                    "verdict": a.verdict,
                    "summary": a.summary,
                    "findings": [asdict(f) for f in a.findings],
                    "evidence": a.evidence,
                }
                for a in self.answers
            ],
            "report_html": self.report_uri,
            "seconds": round(self.seconds, 2),
        }


def blockers(findings: list[Finding] | tuple[Finding, ...]) -> list[Finding]:
    """The findings that make a verdict "no"."""
    return [f for f in findings if f.severity == "blocker"]
