"""Uploads that reach for files, blow up, are too large, lie about their type or carry a
line break or a path in their file name; one supplier's invoice in another's name; the same
invoice again, changed to the eye only."""

from __future__ import annotations

from pathlib import Path

from einvoice.lifecycle import Status
from tests.hostile import documents as d
from tests.hostile.facts import count, stored
from tests.hostile.harness import MB
from tests.hostile.http_env import API, LIMIT, HttpEnv, cases, headers_clean, unread


@cases.add()
def upload_xxe(env: HttpEnv) -> None:
    data = d.xxe(d.corpus_bytes(env.corpus, d.COMPREHENSIVE), "file:///etc/passwd")
    with env.timed():
        r = env.request("POST", API, content=data, headers={"Content-Type": "application/xml"})
    unread(env, r, data, "DTD")


@cases.add()
def upload_billion_laughs(env: HttpEnv) -> None:
    data = d.billion_laughs(d.corpus_bytes(env.corpus, d.COMPREHENSIVE))
    unread(env, env.upload(data, "laughs.xml"), data, "DTD")


@cases.add()
def upload_zip_of_zips(env: HttpEnv) -> None:
    data = d.zip_of_zips(3, 16, bytes(MB))
    unread(env, env.upload(data, "wide.zip", "application/zip"), data, "exceeds the limit")


@cases.add()
def upload_too_large(env: HttpEnv) -> None:
    """Refused while the body streams in; nothing stored, by design (the sender is told)."""
    before = count(env.ctx, "submission")
    data = bytes(LIMIT + 1)
    r = env.upload(data, "big.xml")
    assert r.status_code == 413, r.status_code
    assert count(env.ctx, "submission") == before
    env.kept_where.append("refused before storing: 413 to the sender")


@cases.add()
def upload_pdf_named_xml(env: HttpEnv) -> None:
    xml = d.renumber_cii(d.corpus_bytes(env.corpus, d.MINIMAL_CII), env.unique())
    data = d.pdf(b"factur-x.xml", xml)
    r = env.upload(data, "rechnung.xml", "application/xml")
    assert r.status_code == 200, r.text[:500]
    (doc,) = r.json()["documents"]
    assert doc["kind"] == "facturx-pdf" and doc["status"] == Status.PENDING, doc
    env.kept(data)


@cases.add()
def upload_xml_as_image_png(env: HttpEnv) -> None:
    data = env.sample(env.unique())
    r = env.upload(data, "logo.png", "image/png")
    assert r.status_code == 200, r.text[:500]
    (doc,) = r.json()["documents"]
    assert doc["kind"] == "ubl-invoice" and doc["status"] == Status.PENDING, doc
    env.kept(data)


def _raw_multipart(disposition: bytes, data: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = b"hostile0boundary"
    body = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"file\"; "
            + disposition + b"\r\nContent-Type: application/xml\r\n\r\n" + data
            + b"\r\n--" + boundary + b"--\r\n")
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


@cases.add()
def upload_file_name_header_injection(env: HttpEnv) -> None:
    """A line break in the file name, in a multipart header and in the ``filename`` parameter:
    no header of the answer carries it, the JSON receipt gives the name back as data."""
    first, second = env.sample(env.unique()), env.sample(env.unique())
    raw, raw_headers = _raw_multipart(b'filename="a.xml\r\nX-Injected: yes"', first)
    name = "a.xml\r\nX-Injected: yes\r\n"
    with env.timed():
        r1 = env.request("POST", API, content=raw, headers=raw_headers)
        r2 = env.request("POST", API, content=second, params={"filename": name},
                         headers={"Content-Type": "application/xml"})
    for r in (r1, r2):
        assert r.status_code in (200, 400), (r.status_code, r.text[:300])
        headers_clean(r)
    assert r2.status_code == 200, r2.text[:300]
    (doc,) = r2.json()["documents"]
    assert doc["filename"] == name, doc["filename"]
    env.kept(*([first] if r1.status_code == 200 else []), second)


@cases.add()
def upload_file_name_path_traversal(env: HttpEnv) -> None:
    target = Path("/tmp/hostile-suite-pwned.xml")
    target.unlink(missing_ok=True)
    data = env.sample(env.unique())
    r = env.upload(data, "../../../../../tmp/hostile-suite-pwned.xml")
    assert r.status_code == 200, r.text[:300]
    assert not target.exists(), "a file was written where the name pointed"
    env.kept(data)


@cases.add()
def upload_for_another_seller(env: HttpEnv) -> None:
    """Alpha uploads an invoice in the genuine supplier's name (its VAT id, a new IBAN): held,
    and the genuine supplier's own invoice of that number is no duplicate of it."""
    number = env.unique("FORGED")
    forged = d.replaced(env.sample(number), b"DE79000000001234567890", b"DE89370400440532013000")
    genuine = env.sample(number)
    r1 = env.upload(forged, "forged.xml", token="alpha")
    r2 = env.upload(genuine, "genuine.xml")
    assert r1.status_code == r2.status_code == 200, (r1.text[:300], r2.text[:300])
    (held,), (real,) = r1.json()["documents"], r2.json()["documents"]
    assert held["status"] == Status.PENDING, held  # a hold tips nobody off
    case = stored(env.ctx, held["invoice_id"])
    assert case.status == Status.ON_HOLD and case.invoice.unbound, case.invoice
    assert "seller does not match the upload token's supplier" in (case.invoice.binding_flags
                                                                   or "")
    original = stored(env.ctx, real["invoice_id"])
    assert original.status == Status.PENDING and original.invoice.duplicate_of is None
    env.kept(forged, genuine)


@cases.add()
def upload_cosmetic_duplicate(env: HttpEnv) -> None:
    number = env.unique("RE-77")
    first = env.sample(number)
    copy = env.sample(number.lower().replace("-", "\u2011") + "\u200b")
    r1 = env.upload(first, "first.xml")
    r2 = env.upload(copy, "copy.xml")
    (one,), (two,) = r1.json()["documents"], r2.json()["documents"]
    assert one["status"] == Status.PENDING, one
    assert stored(env.ctx, two["invoice_id"]).invoice.duplicate_of == one["invoice_id"]
    env.kept(first, copy)


@cases.add()
def upload_two_files(env: HttpEnv) -> None:
    data = env.sample(env.unique())
    before = count(env.ctx, "submission")
    with env.timed():
        r = env.request("POST", API, files=[("file", ("a.xml", data, "application/xml")),
                                            ("file", ("b.xml", data, "application/xml"))])
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert count(env.ctx, "submission") == before
    env.kept_where.append("refused before storing: 400 to the sender")
