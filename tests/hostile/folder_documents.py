"""Documents that reach for files and the network, blow up, nest too deep, carry 60,000
attributes or a 12 MB text node, PDFs that inflate or carry such XML, and types that lie."""

from __future__ import annotations

from einvoice.formats.xmlsafe import MAX_ATTRIBUTES, MAX_DEPTH
from einvoice.lifecycle import Status
from einvoice.validation.engine import LIMIT
from tests.hostile import documents as d
from tests.hostile.facts import stored
from tests.hostile.folder_env import FolderEnv, cases, refused

# ------------------------------------------------------------------ XML


@cases.add()
def xxe_file(env: FolderEnv) -> None:
    data = d.xxe(env.comprehensive(), "file:///etc/passwd")
    refused(env, env.one("xxe-file.xml", data), data, "DTD")


@cases.add()
def xxe_http(env: FolderEnv) -> None:
    assert env.listener is not None
    data = d.xxe(env.comprehensive(), env.listener.url)
    refused(env, env.one("xxe-http.xml", data), data, "DTD")


@cases.add()
def xxe_parameter_entity(env: FolderEnv) -> None:
    assert env.listener is not None
    data = d.parameter_entity(env.comprehensive(), env.listener.url)
    refused(env, env.one("xxe-param.xml", data), data, "DTD")


@cases.add()
def xxe_in_utf16(env: FolderEnv) -> None:
    data = d.utf16(d.xxe(env.comprehensive(), "file:///etc/passwd"))
    refused(env, env.one("xxe-utf16.xml", data), data, "DTD")


@cases.add()
def billion_laughs(env: FolderEnv) -> None:
    data = d.billion_laughs(env.comprehensive())
    refused(env, env.one("laughs.xml", data), data, "DTD")


@cases.add()
def quadratic_blowup(env: FolderEnv) -> None:
    data = d.quadratic(env.comprehensive())
    refused(env, env.one("quadratic.xml", data), data, "DTD")


@cases.add()
def xxe_behind_a_long_comment(env: FolderEnv) -> None:
    """A DTD beyond the prolog the quick scan reads: found in the parsed tree, nothing fetched."""
    assert env.listener is not None
    data = d.doctype_after_comment(env.comprehensive(),
                                   f'<!ENTITY e SYSTEM "{env.listener.url}">', "&e;")
    refused(env, env.one("late-xxe.xml", data), data, "DTD")


@cases.add()
def laughs_behind_a_long_comment(env: FolderEnv) -> None:
    """libxml2 gives up on the amplification before the tree is there to be looked at."""
    data = d.doctype_after_comment(env.comprehensive(), d.laughs_subset(), "&e9;")
    refused(env, env.one("late-laughs.xml", data), data, "not well-formed XML",
            "amplification")


@cases.add()
def nesting_beyond_the_rule_engine(env: FolderEnv) -> None:
    """200 levels: readable, but beyond what the rule engine reads: invalid, naming the limit
    (not undefined for ever)."""
    data = d.nested(env.comprehensive(), 200, env.unique())
    res = env.one("deep.xml", data)
    assert res.result is not None
    (outcome,) = res.result.outcomes
    case = stored(env.ctx, outcome.invoice_id)
    assert case.status == Status.INVALID and LIMIT in case.rules, (case.status, case.rules)
    assert f"deeper than {MAX_DEPTH} levels" in case.says()
    env.kept(data)


@cases.add()
def nesting_100000_deep(env: FolderEnv) -> None:
    data = d.nested(env.comprehensive(), 100_000, env.unique())
    refused(env, env.one("deeper.xml", data), data, "not well-formed XML", "depth")


@cases.add()
def attributes_60000(env: FolderEnv) -> None:
    data = d.attributes(env.comprehensive(), 60_000, env.unique())
    res = env.one("attributes.xml", data)
    assert res.result is not None
    (outcome,) = res.result.outcomes
    case = stored(env.ctx, outcome.invoice_id)
    assert case.status == Status.INVALID and LIMIT in case.rules, (case.status, case.rules)
    assert f"more than {MAX_ATTRIBUTES} attributes" in case.says()
    env.kept(data)


@cases.add(xfail="a valid invoice with a 9 MB attachment (12 MB XML) is accepted as issue 14 "
                 "item 6 asks, but validating it grows the process by ~180 MB (lxml's tree, the "
                 "text handed to Saxon and Saxon's one tree, shared by its packs since; ~270 MB "
                 "when each pack parsed its own) in ~0.6 s CPU")
def huge_text_node(env: FolderEnv) -> None:
    data = d.big_attachment(env.comprehensive(), 9, env.unique())
    res = env.one("attachment-9mb.xml", data)
    assert res.ok and res.result is not None, res.problem
    (outcome,) = res.result.outcomes
    assert outcome.status == Status.PENDING, outcome
    env.kept(data)


# ------------------------------------------------------------------ PDF


@cases.add()
def pdf_bomb(env: FolderEnv) -> None:
    """An embedded factur-x.xml that inflates to 300 MB."""
    data = d.pdf(b"factur-x.xml", d.zeros_deflated(300), flate=True)
    refused(env, env.one("bomb.pdf", data), data, "PDF cannot be read")


@cases.add()
def pdf_truncated(env: FolderEnv) -> None:
    whole = d.corpus_bytes(env.corpus, "zugferd/mustang/library/EN16931_Einfach.pdf")
    data = whole[: len(whole) // 3]
    refused(env, env.one("truncated.pdf", data), data)


@cases.add()
def pdf_with_xxe_xml(env: FolderEnv) -> None:
    xml = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + d.cii(
        "&e;")
    data = d.pdf(b"factur-x.xml", xml)
    refused(env, env.one("xxe.pdf", data), data)


@cases.add()
def pdf_with_billion_laughs_xml(env: FolderEnv) -> None:
    levels = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    xml = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e0 "lol">{levels}]>'.encode() + d.cii(
        "&e9;")
    data = d.pdf(b"factur-x.xml", xml)
    refused(env, env.one("laughs.pdf", data), data)


@cases.add()
def pdf_named_xml(env: FolderEnv) -> None:
    """A ZUGFeRD PDF sent as ``.xml``: read by what it is."""
    xml = d.renumber_cii(d.corpus_bytes(env.corpus, d.MINIMAL_CII), env.unique())
    data = d.pdf(b"factur-x.xml", xml)
    res = env.one("rechnung-pdf.xml", data)
    assert res.ok and res.result is not None, res.problem
    (outcome,) = res.result.outcomes
    assert outcome.kind == "facturx-pdf" and outcome.status == Status.PENDING, outcome
    env.kept(data)


@cases.add()
def xml_named_pdf(env: FolderEnv) -> None:
    data = env.comprehensive(env.unique())
    res = env.one("rechnung.pdf", data)
    assert res.ok and res.result is not None, res.problem
    (outcome,) = res.result.outcomes
    assert outcome.kind == "ubl-invoice" and outcome.status == Status.PENDING, outcome
    env.kept(data)
