"""Reports as JSON (for scripts), plain text (for the terminal) and a readable HTML page (for
suppliers and clerks). The JSON shape is a promise to scripts: keep it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from einvoice.validation.findings import Finding, Report, Verdict

VERDICT_DE = {"accept": "angenommen", "reject": "abgelehnt", "undefined": "nicht bestimmt"}

_env = Environment(loader=PackageLoader("einvoice", "templates"),
                   autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class FindingOut:
    """One finding as scripts, suppliers and the report pages read it (README: ``validate
    --format json``). Its fields are the JSON keys, named nowhere else: ``validate``,
    ``show --json``, the upload receipt and the HTML pages all go through here."""

    rule_id: str
    flag: str
    level: str  # the effective level, after the scenario's overrides
    term: str | None
    location: str | None
    line: int | None
    message: str

    @classmethod
    def of(cls, f: Finding) -> FindingOut:
        return cls(rule_id=f.rule_id, flag=f.flag.value, level=f.effective.value, term=f.term,
                   location=f.location, line=f.line, message=f.message)


def exit_code(reports: list[Report]) -> int:
    """As the KoSIT command line: 2 when any processing failed, 1 when any file was rejected,
    0 when all were accepted."""
    verdicts = {r.verdict for r in reports}
    return 2 if Verdict.UNDEFINED in verdicts else 1 if Verdict.REJECT in verdicts else 0


def finding_json(f: Finding) -> dict[str, Any]:
    return asdict(FindingOut.of(f))


def report_json(r: Report) -> dict[str, Any]:
    return {"path": r.source, "verdict": r.verdict.value, "scenario": r.scenario,
            "release": r.release, "kind": r.kind, "specification_id": r.specification_id,
            "profile": r.profile,
            "error": r.error,
            "findings": [finding_json(f) for f in r.findings],
            "engine_errors": [finding_json(e) for e in r.engine_errors]}


def report_json_text(r: Report) -> str:
    return json.dumps(report_json(r), ensure_ascii=False, indent=2)


def report_text(r: Report) -> str:
    lines = [f"{r.source}: {r.verdict.value.upper()} ({VERDICT_DE[r.verdict.value]})",
             f"  scenario: {r.scenario or '-'}", f"  profile: {r.profile or '-'}",
             f"  rule release: {r.release or '-'}"]
    if r.error:
        lines.append(f"  error: {r.error}")
    for f in r.findings:
        where = f.location or ""
        if f.line:
            where += f" (line {f.line})"
        term = f" [{f.term}]" if f.term else ""
        lines.append(f"  {f.effective.value:<11} {f.rule_id}{term} {where}".rstrip())
        lines.append(f"      {f.message}")
    for e in r.engine_errors:  # rules that could not run: the document was not fully checked
        lines.append(f"  not run     {e.pack} {e.rule_id} {e.location or ''}".rstrip())
        lines.append(f"      {e.message}")
    return "\n".join(lines)


def report_html(r: Report) -> str:
    return _env.get_template("report.html").render(
        r=r, findings=[finding_json(f) for f in r.findings], verdict_de=VERDICT_DE)
