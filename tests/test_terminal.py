"""The terminal layer itself (``views.terminal``): which characters are shown how, what stays,
and that tables, consoles and JSON cannot be made to carry markup or a control character."""

from __future__ import annotations

import io
import json
import unicodedata
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from einvoice.store import tables as t
from einvoice.views.formatting import money
from einvoice.views.listing import Listed
from einvoice.views.status import status_view
from einvoice.views.tables import invoice_table
from einvoice.views.terminal import (
    SafeConsole,
    SafeTable,
    compose,
    json_visible,
    safe,
    stack,
    visible,
)
from tests.test_output_safety import HIDDEN, PIECES, seen

ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


def _printed(*objects: Any, width: int = 1000) -> str:
    out = io.StringIO()
    console = SafeConsole(file=out, width=width, force_terminal=True,
                          color_system="truecolor")
    console.print(*objects)
    return out.getvalue()


def test_each_hostile_piece_is_shown_as_specified() -> None:
    for raw, shown in PIECES:
        assert visible(raw) == shown, raw


def test_the_stand_ins_character_by_character() -> None:
    assert [visible(chr(c)) for c in (0, 7, 9, 13, 27, 31, 127)] == [
        "␀", "␇", "␉", "␍", "␛", "␟", "␡"]
    assert visible("\x85\x9b\u00ad\u061c\u200b\u200d\u2028\u2029\u202a\u202e\u2066\u2069"
                   "\ufeff\U000e0041\udcff") == (
        "⟨U+0085⟩⟨U+009B⟩⟨U+00AD⟩⟨U+061C⟩⟨U+200B⟩⟨U+200D⟩⟨U+2028⟩⟨U+2029⟩⟨U+202A⟩"
        "⟨U+202E⟩⟨U+2066⟩⟨U+2069⟩⟨U+FEFF⟩⟨U+E0041⟩⟨U+DCFF⟩")


def test_what_people_write_stays() -> None:
    german = "Müller & Söhne GmbH – Straße 1, 12.829,69\xa0€ „Rechnung“ 株式会社 😀 [Seller name]"
    assert visible(german) == german
    assert visible(money(Decimal("1234.5"), "EUR")) == money(Decimal("1234.5"), "EUR")
    assert visible(None) == ""


def test_line_breaks_stay_only_where_a_value_may_have_lines() -> None:
    assert visible("eins\r\nzwei\ndrei") == "eins\nzwei\ndrei"
    assert visible("eins\nzwei", lines=False) == "eins␊zwei"
    assert stack("RE-1\nbezahlt", "wartet").plain == "RE-1␊bezahlt\nwartet"
    assert stack(None, "", "a", Text("b", style="red")).plain == "a\nb"


@given(ANY_TEXT)
def test_nothing_hidden_survives_and_plain_text_is_untouched(text: str) -> None:
    shown = visible(text)
    assert not [c for c in shown if c != "\n" and unicodedata.category(c) in HIDDEN]
    if not any(unicodedata.category(c) in HIDDEN for c in text):
        assert shown == text


@given(st.recursive(st.none() | ANY_TEXT | st.integers(),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(ANY_TEXT, inner, max_size=3), max_leaves=8))
def test_json_keeps_every_value_and_shows_no_control(data: Any) -> None:
    text = json_visible(json.dumps(data, ensure_ascii=False))
    assert json.loads(text) == data
    assert not [c for c in text if unicodedata.category(c) in HIDDEN]


def test_json_writes_astral_format_characters_as_a_surrogate_pair() -> None:
    assert json_visible(json.dumps("\U000e0041ä", ensure_ascii=False)) == '"\\udb40\\udc41ä"'


def test_markup_in_a_table_cell_title_or_message_is_text() -> None:
    table = SafeTable("A", "B", title="[bold]Titel[/]")
    table.add_row("[/]", "[link=https://evil.example]x[/link]")
    table.add_row(safe("ours", "red"), compose(("rot", "red"), " [/]"))
    out = _printed(table, "[red]fremd[/]", ":warning:")
    shown = seen(out)
    for text in ("[bold]Titel[/]", "[/]", "[link=https://evil.example]x[/link]",
                 "[red]fremd[/]", ":warning:", "rot [/]"):
        assert text in shown, text
    assert "\x1b]8;" not in out and "⚠" not in out
    assert "\x1b[31mrot" in out  # our own colour is still a colour


def test_status_shows_job_details_and_errors_as_text() -> None:
    raw = "".join(r for r, _ in PIECES)
    data = {"jobs": {"intake": {"started_at": "2026-12-02T10:00:00+00:00",
                                "finished_at": "2026-12-02T10:00:01+00:00", "ok": False,
                                "detail": raw}},
            "queues": {}, "last_export": None, "notices_unsent": 0, "unassigned": 0,
            "waiting": {"count": 0, "oldest": None},
            "errors": [{"source": "job:intake", "at": "2026-12-02T10:00:01+00:00",
                        "error": raw}], "timezone": "Europe/Berlin"}
    shown = seen(_printed(*status_view(data)))
    assert shown.count("".join(s for _, s in PIECES)) == 2


def test_a_long_invoice_number_cannot_push_the_seller_off_the_list() -> None:
    inv = t.Invoice(id=7, document_id=1, status="pending", number="X" * 150,
                    seller_name="Stadtwerke Musterstadt", gross_total=Decimal("12.50"),
                    currency="EUR")
    doc = t.Document(id=1, submission_id=1, sha256="0" * 64, size=1, kind="ubl-invoice")
    lines = seen(_printed(invoice_table([Listed.of(inv, doc)]), width=80)).splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert any("Stadtwerke" in line and "12,50\xa0€" in line for line in lines), lines
