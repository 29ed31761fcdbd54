"""Each hostile family through each view of a case: ``list``, ``inbox``, ``show``, ``history``
(the terminal: shown as text, nothing hidden or obeyed), ``list --json`` (the exact value, as
data) and ``view`` (the HTML page: escaped, nothing that runs or loads)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial

import lxml.html

from einvoice.views.policy import POLICY_META
from tests.hostile.facts import hidden, page_text, stored
from tests.hostile.harness import Case
from tests.hostile.views_env import FAMILIES, Family, ViewsEnv, cases


def squash(text: str) -> str:
    """Lines joined and runs of blanks as one: a wrapped cell reads whole."""
    return re.sub(r"[ \n]+", " ", text)


def on_screen(out: str, fam: Family, *expected: str) -> None:
    assert not hidden(out), f"raw control or invisible characters: {hidden(out)}"
    flat = squash(out)
    for text in expected or fam.shown:
        assert squash(text) in flat, (text, out[-1500:])


def _list(env: ViewsEnv, name: str, fam: Family) -> None:
    on_screen(env.timed_cli("list"), fam, *fam.shown[:1])


def _inbox(env: ViewsEnv, name: str, fam: Family) -> None:
    on_screen(env.timed_cli("inbox", "--office", "*"), fam, *fam.shown[:1])


def _show(env: ViewsEnv, name: str, fam: Family) -> None:
    with env.timed():
        out = env.cli("show", str(env.family_ids[name]))
        junk = env.cli("show", str(env.junk_ids[name]))
    on_screen(out, fam)
    on_screen(junk, fam, *fam.shown[1:])  # the file name of an unreadable document


def _history(env: ViewsEnv, name: str, fam: Family) -> None:
    on_screen(env.timed_cli("history", str(env.family_ids[name])), fam, *fam.shown[1:])


def _json(env: ViewsEnv, name: str, fam: Family) -> None:
    with env.timed():
        rows = json.loads(env.cli("list", "--json"))
        one = json.loads(env.cli("show", "--json", str(env.family_ids[name])))
    case = stored(env.ctx, env.family_ids[name]).invoice
    assert fam.xml in (case.number or ""), case.number  # the value exactly as read and stored
    assert case.seller_name in {r["seller"] for r in rows}
    assert (one["note"], one["number"], one["seller"]) == (fam.raw, case.number,
                                                            case.seller_name), one


def _page(env: ViewsEnv, name: str, fam: Family) -> None:
    page = env.work / f"{name}.html"
    with env.timed():
        env.cli("view", str(env.family_ids[name]), "-o", str(page))
        env.cli("view", str(env.junk_ids[name]), "-o", str(page.with_suffix(".junk.html")))
    for html in (page.read_text(encoding="utf-8"),
                 page.with_suffix(".junk.html").read_text(encoding="utf-8")):
        assert POLICY_META in html
        doc = lxml.html.document_fromstring(html)
        assert not doc.xpath("//script | //img | //iframe | //b | //*[@src] | //*[@onerror] "
                             "| //a[contains(@href, 'evil')]"), html[:2000]
        assert "49" not in page_text(html).split()
    text = page_text(page.read_text(encoding="utf-8"))
    for part in fam.page:
        assert part in text, part


VIEWS: dict[str, Callable[[ViewsEnv, str, Family], None]] = {
    "list": _list, "inbox": _inbox, "show": _show, "history": _history, "json": _json,
    "page": _page}



def _looked_at(view: str, name: str, env: ViewsEnv) -> None:
    VIEWS[view](env, name, FAMILIES[name])
    env.kept(env.originals[name])


for _view in VIEWS:
    for _name in FAMILIES:
        cases.append(Case(f"{_view}_{_name}", partial(_looked_at, _view, _name)))
