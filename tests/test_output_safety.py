"""Nothing from outside reaches the staff terminal or a page as code (issue 14, item 1).

One hostile string set (rich markup, a rich emoji code, HTML and template syntax, bidi and
zero-width characters, a C1 control; and where the channel allows them, ESC sequences that clear
the screen, set the window title or open an OSC 8 link, BEL and NUL) arrives through the real
paths: in the invoice XML (seller, invoice number, buyer reference, payment terms, item names),
as the file name of an upload, as the sender and subject of a mail, in a note, a staff name and
office, a supplier name. Then every view shows it, through the real CLI: ``list``, ``inbox``,
``show``, ``history``, ``--json``, ``supplier list``, ``staff list``; ``view`` (HTML); the upload
receipt and the supplier status page (the real ASGI app). The terminal runs in colour (rich
emits its escape codes, and would emit an OSC 8 link for parsed ``[link=…]`` markup), so "no
hidden character left" means: after our own colour codes nothing invisible or controlling.
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from pathlib import Path

import httpx
import lxml.html
import pytest
from rich.color import ColorSystem

from einvoice.approval.suppliers import SupplierData, save_supplier
from einvoice.approval.tokens import create_token
from einvoice.cli import common as cli_common
from einvoice.context import Context
from einvoice.intake.http import create_app
from einvoice.pipeline import Submission, ingest
from einvoice.views.policy import POLICY_META
from tests.test_output_style import COMPREHENSIVE, Cli, staff_cli

# (what arrives, what a clerk reads instead)
PIECES = (
    ("[/]", "[/]"),
    ("[link=https://evil.example]Stadtwerke[/link]", "[link=https://evil.example]Stadtwerke[/link]"),
    (":warning:", ":warning:"),
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("{{7*7}}", "{{7*7}}"),
    ("\u202eevil", "⟨U+202E⟩evil"),
    ("a\u200bb", "a⟨U+200B⟩b"),
    ("\ufeffBOM", "⟨U+FEFF⟩BOM"),
    ("\x9b2J", "⟨U+009B⟩2J"),  # CSI as one C1 character: allowed in XML 1.0
    ("\x1b[2J", "␛[2J"),  # from here on: not in XML, in file names, notes, names, mail
    ("\x1b]0;title\x07", "␛]0;title␇"),
    ("\x1b]8;;https://evil.example\x1b\\klick\x1b]8;;\x1b\\",
     "␛]8;;https://evil.example␛\\klick␛]8;;␛\\"),
    ("tab\tcr\r", "tab␉cr␍"),
    ("\x00", "␀"),
    ("Ende", "Ende"),  # last, so that no control stands at the end (names are stripped)
)
HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp"}
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours


def _in_xml(raw: str) -> bool:
    return all(ord(c) >= 0x20 for c in raw)  # XML turns a CR into a line break


def hostile(*, xml: bool = False, nul: bool = True) -> tuple[str, str]:
    """The hostile text and how it must look: the pieces XML can carry, or all of them (NUL
    only where the database takes it: PostgreSQL refuses NUL in text)."""
    chosen = [p for p in PIECES if (_in_xml(p[0]) or not xml) and (nul or p[0] != "\x00")]
    return " ".join(raw for raw, _ in chosen), " ".join(shown for _, shown in chosen)


def seen(out: str) -> str:
    """What the terminal shows of ``out``: our colour codes taken out, nothing hidden left."""
    plain = SGR.sub("", out)
    left = sorted({f"U+{ord(c):04X}" for c in plain
                   if c != "\n" and unicodedata.category(c) in HIDDEN})
    assert not left, f"raw control or invisible characters in the output: {left}"
    return plain


def squash(text: str) -> str:
    """Lines joined, runs of blanks as one: a wrapped title reads whole."""
    return re.sub(r"[ \n]+", " ", text)


def _xml_text(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def hostile_invoice(corpus: Path, text: str) -> bytes:
    """The comprehensive sample with ``text`` as seller, in the invoice number, as buyer
    reference, in the payment terms and as an item name."""
    x = _xml_text(text)
    data = (corpus / COMPREHENSIVE).read_bytes()
    for old, new in ((b"<cbc:ID>1234567</cbc:ID>", b"<cbc:ID>RE-1 " + x + b"</cbc:ID>"),
                     (b"[Seller name]", x), (b"90000000-03083-72", x),
                     (b"Beschreibung 1: Bitte", x + b" Bitte"),
                     (b"<cbc:Name>Beratung</cbc:Name>", b"<cbc:Name>" + x + b"</cbc:Name>")):
        assert old in data, old
        data = data.replace(old, new)
    return data


@pytest.fixture
def cli(ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI as an admin, in a wide colour terminal (a hostile value stays on one line)."""
    run = staff_cli(ctx, tmp_path, monkeypatch, role="admin")
    monkeypatch.setenv("COLUMNS", "1000")
    for console in (cli_common.console, cli_common.err):
        monkeypatch.setattr(console, "_force_terminal", True)
        monkeypatch.setattr(console, "_color_system", ColorSystem.TRUECOLOR)
    assert cli_common.console.width == 1000 and cli_common.console.is_terminal
    return run


@pytest.fixture
def postgres(ctx: Context) -> bool:
    return ctx.engine.dialect.name == "postgresql"


def test_invoice_views_show_hostile_text_as_text(ctx: Context, cli: Cli, corpus: Path,
                                                 postgres: bool, tmp_path: Path) -> None:
    xml, xml_shown = hostile(xml=True)
    raw, raw_shown = hostile(nul=not postgres)
    (inv,) = ingest(ctx, Submission(hostile_invoice(corpus, xml), "mail", filename=raw + ".xml",
                                    sender=raw, subject=raw)).outcomes
    (junk,) = ingest(ctx, Submission(b"<kaputt", "upload", filename=raw + ".xml")).outcomes
    cli("hold", str(inv.invoice_id), "--note", raw)

    listed = seen(cli("list"))
    assert f"RE-1 {xml_shown}" in listed and xml_shown in listed and f"{raw_shown}.xml" in listed
    inbox = seen(cli("inbox", "--office", "*"))
    assert f"RE-1 {xml_shown}" in inbox and xml_shown in inbox
    shown = seen(cli("show", str(inv.invoice_id)))
    for where in (f"RE-1 {xml_shown}", f"{xml_shown} Bitte", f"von {raw_shown}, Betreff "
                  f"„{raw_shown}“"):
        assert where in shown, where
    assert re.search(f"Vermerk +{re.escape(raw_shown)}", shown)
    unreadable = seen(cli("show", str(junk.invoice_id)))
    assert f"Nicht lesbares Dokument {raw_shown}.xml" in squash(unreadable)  # the title
    assert re.search(f"Datei +{re.escape(raw_shown)}.xml", unreadable)
    history = seen(cli("history", str(inv.invoice_id)))
    assert raw_shown in history and "zurückgestellt" in history

    rows = json.loads(seen(cli("list", "--json")))
    assert {r["seller"] for r in rows} == {xml, None}  # the JSON keeps the value exact
    assert json.loads(seen(cli("show", "--json", str(inv.invoice_id))))["note"] == raw


def test_the_page_of_a_hostile_invoice_is_escaped(ctx: Context, cli: Cli, corpus: Path,
                                                  tmp_path: Path) -> None:
    xml, _ = hostile(xml=True)
    (inv,) = ingest(ctx, Submission(hostile_invoice(corpus, xml), "cli",
                                    filename="<b>bold</b>.xml")).outcomes
    seen(cli("view", str(inv.invoice_id), "-o", "page.html"))
    page = (tmp_path / "page.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;.xml" in page
    assert POLICY_META in page
    doc = lxml.html.document_fromstring(page)
    assert not doc.xpath("//script | //b | //*[@href] | //*[@src] | //iframe")
    text = doc.text_content()
    assert f"RE-1 {xml}" in text and "{{7*7}}" in text and "49" not in text.split()


def test_supplier_and_staff_lists_show_hostile_names_as_text(cli: Cli, postgres: bool) -> None:
    raw, raw_shown = hostile(nul=not postgres)
    cli("supplier", "add", "--name", raw, "--vat-id", "DE123456789",
        "--iban", "DE02120300000000202051", "--email", "rechnung@example.org")
    assert raw_shown in seen(cli("supplier", "list"))
    cli("staff", "add", "hostile", "--name", raw, "--role", "viewer", "--office", raw)
    listed = seen(cli("staff", "list"))
    assert listed.count(raw_shown) == 2  # the name and the office


def _pages(ctx: Context, token: str, upload: bytes, filename: str,
           number: str) -> tuple[httpx.Response, httpx.Response]:
    """The upload receipt and the status page, from the real ASGI app."""
    app = create_app(ctx.settings)

    async def run() -> tuple[httpx.Response, httpx.Response]:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://einvoice") as client:
            receipt = await client.post("/upload", data={"token": token},
                                        files={"file": (filename, upload, "application/xml")})
            status = await client.post("/status", data={"token": token, "number": number})
            return receipt, status

    return asyncio.run(run())


def test_receipt_and_status_page_show_hostile_text_escaped(ctx: Context, corpus: Path) -> None:
    xml, _ = hostile(xml=True)
    supplier = save_supplier(ctx, SupplierData(xml))
    assert supplier.id is not None
    _, token = create_token(ctx, supplier.id, "hostile")
    receipt, status = _pages(ctx, token, hostile_invoice(corpus, xml),
                             "<img src=x onerror=alert(1)>.xml", f"RE-1 {xml}")
    for page in (receipt, status):
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert POLICY_META in page.text
        doc = lxml.html.document_fromstring(page.text)
        assert not doc.xpath("//script | //img | //iframe | //*[@src]")
        assert f"RE-1 {xml}" in doc.text_content()
    assert "&lt;img src=x onerror=alert(1)&gt;.xml" in receipt.text
    assert xml in lxml.html.document_fromstring(receipt.text).text_content()  # seller, sender
