"""The status lookup and the tokens with SQL meta characters, another supplier's invoice,
markup on the receipt page, the status page and in the JSON receipt."""

from __future__ import annotations

import httpx
import lxml.html

from einvoice.views.policy import POLICY_META
from tests.hostile import documents as d
from tests.hostile.facts import count, page_text
from tests.hostile.http_env import API, HOSTILE, HttpEnv, cases


@cases.add()
def lookup_with_sql_meta_characters(env: HttpEnv) -> None:
    """The status lookup compares whole numbers: a meta character matches itself only."""
    metas = ("' OR 1=1 --", "%", "_", "\\", "50%", "5_%")
    literal = "' OR 1=1 --"
    data = env.sample(literal)
    assert env.upload(data, "meta.xml").status_code == 200
    with env.timed():
        found = {m: env.request("GET", API, params={"number": m}) for m in metas}
    for meta, r in found.items():
        assert r.status_code == 200, (meta, r.text[:300])
        numbers = [i["number"] for i in r.json()["invoices"]]
        assert numbers == ([literal] if meta == literal else []), (meta, numbers)
    env.kept(data)


@cases.add()
def status_of_another_suppliers_invoice(env: HttpEnv) -> None:
    data = env.sample(env.unique())
    r = env.upload(data)
    invoice_id = r.json()["documents"][0]["invoice_id"]
    with env.timed():
        theirs = env.request("GET", f"{API}/{invoice_id}", token="alpha")
        by_number = env.request("GET", API, token="alpha",
                                params={"number": r.json()["documents"][0]["number"]})
    assert theirs.status_code == 404, theirs.text[:300]
    assert by_number.json()["invoices"] == [], by_number.text[:300]
    env.kept(data)


@cases.add()
def token_with_sql_meta_characters(env: HttpEnv) -> None:
    before = count(env.ctx, "submission")
    data = env.sample(env.unique())
    with env.timed():
        answers = [env.request("POST", API, token=bad, content=data,
                               headers={"Content-Type": "application/xml"})
                   for bad in ("' OR 1=1 --", "%", "*", "\\", "' OR ''='")]
        page = env.request("POST", "/upload", token=None, data={"token": "' OR 1=1 --"},
                           files={"file": ("a.xml", data, "application/xml")})
    assert [r.status_code for r in answers] == [401] * 5 and page.status_code == 401
    assert count(env.ctx, "submission") == before
    env.kept_where.append("refused before storing: 401 to the sender")


def _page_is_text(page: httpx.Response, *texts: str) -> None:
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert POLICY_META in page.text
    doc = lxml.html.document_fromstring(page.text)
    assert not doc.xpath("//script | //img | //iframe | //*[@src] | //*[@onerror]"), page.text
    shown = page_text(page.text)
    for text in texts:
        assert text in shown, text
    assert "49" not in shown.split() and "alert(1)" in shown


@cases.add()
def receipt_page_with_markup(env: HttpEnv) -> None:
    number = env.unique()
    data = d.saying(d.corpus_bytes(env.corpus, d.COMPREHENSIVE), HOSTILE, number)
    name = "<img src=x onerror=alert(3)>{{7*7}}.xml"
    with env.timed():
        page = env.request("POST", "/upload", token=None, data={"token": env.tokens["genuine"]},
                           files={"file": (name, data, "application/xml")})
    assert page.status_code == 200, page.text[:500]
    _page_is_text(page, f"{number} {HOSTILE}", name)
    env.kept(data)


@cases.add()
def status_page_with_markup(env: HttpEnv) -> None:
    number = env.unique()
    data = d.saying(d.corpus_bytes(env.corpus, d.COMPREHENSIVE), HOSTILE, number)
    assert env.upload(data).status_code == 200
    with env.timed():
        page = env.request("POST", "/status", token=None,
                           data={"token": env.tokens["genuine"], "number": f"{number} {HOSTILE}"})
    assert page.status_code == 200, page.text[:500]
    _page_is_text(page, f"{number} {HOSTILE}")
    env.kept(data)


@cases.add()
def json_receipt_keeps_values_as_data(env: HttpEnv) -> None:
    number = env.unique()
    data = d.saying(d.corpus_bytes(env.corpus, d.COMPREHENSIVE), HOSTILE, number)
    r = env.upload(data, "x.xml")
    (doc,) = r.json()["documents"]
    assert (doc["number"], doc["seller"]) == (f"{number} {HOSTILE}", HOSTILE), doc
    assert r.headers["content-type"] == "application/json"
    env.kept(data)
