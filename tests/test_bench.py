"""The bench's own arithmetic and plumbing on tiny input (``bench/run.py`` measures issue 15's
targets; a wrong median, target check or peak RSS would misreport every run).

The JVM driver (``bench/jvm/Validate.java``) runs on a one-element schema and a tiny stylesheet:
it needs ``javac`` and the Debian package ``libsaxonhe-java`` (tests/system.py's rule: missing
in CI fails, elsewhere skips).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from bench import measure as m
from bench import procs
from tests import system


def test_summary_median_p95_nearest_rank_and_mean() -> None:
    stats = m.summary([float(v) for v in range(20, 0, -1)])  # 1..20, unordered
    assert stats == m.Stats(n=20, median=10.5, p95=19.0, mean=10.5)
    assert m.summary([4.0]) == m.Stats(1, 4.0, 4.0, 4.0)
    assert m.summary([1.0, 2.0, 3.0, 100.0]).p95 == 100.0  # ceil(0.95 * 4) = 4th
    with pytest.raises(ValueError):
        m.summary([])


def test_steady_rate_leaves_out_the_first_tenth() -> None:
    # 20 items: the first two took 5 s (compiling), then one every 0.1 s
    stamps = [5.0, 5.1] + [5.1 + 0.1 * i for i in range(1, 19)]
    assert m.steady_rate(stamps) == pytest.approx(10.0)  # (20 - 1 - 2) / (6.9 - 5.2)
    assert m.steady_rate([0.0, 2.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        m.steady_rate([1.0])
    with pytest.raises(ValueError):
        m.steady_rate([1.0, 1.0])


def test_target_is_met_at_its_bound_and_not_one_step_beyond() -> None:
    at_most = m.Target("<=", 0.3, " s")
    assert at_most.met(0.3) and not at_most.met(0.3001) and at_most.met(None) is None
    at_least = m.Target(">=", 150, "/s")
    assert at_least.met(150) and not at_least.met(149.99)
    assert at_most.text() == "≤ 0.3 s"
    assert m.Target(">=", 3.0, "×", of="speedup").text() == "JVM ÷ einvoice ≥ 3×"


def test_a_speedup_target_is_checked_against_jvm_over_einvoice() -> None:
    row = m.Row("warm", "wall", " ms", einvoice=2.0, saxonche=7.0, jvm=6.0,
                target=m.Target(">=", 3.0, "×", of="speedup"))
    assert row.ratio == pytest.approx(1 / 3) and row.speedup == pytest.approx(3.0)
    assert row.checked == pytest.approx(3.0) and row.met is True
    slower = m.Row("warm", "wall", " ms", einvoice=2.01, jvm=6.0, target=row.target)
    assert slower.met is False
    no_jvm = m.Row("warm", "wall", " ms", einvoice=2.0, target=row.target)
    assert no_jvm.ratio is None and no_jvm.met is None


def test_a_plain_target_is_checked_against_the_einvoice_value() -> None:
    row = m.Row("start-up", "--help", " s", einvoice=0.31, jvm=0.1,
                target=m.Target("<=", 0.3, " s"))
    assert row.checked == 0.31 and row.met is False
    assert m.Row("x", "y", " s", einvoice=1.0).met is None  # no target: nothing to meet


def test_number_keeps_three_significant_digits() -> None:
    assert [m.number(v) for v in (0, 0.012345, 1.2345, 12.345, 123.45, 123456.0)] == [
        "0", "0.0123", "1.23", "12.3", "123", "123,456"]


def test_table_and_json_carry_every_row_and_verdict() -> None:
    rows = [m.Row("start-up", "--help", " s", einvoice=0.2, target=m.Target("<=", 0.3, " s")),
            m.Row("start-up", "validate", " s", einvoice=0.6, jvm=1.2,
                  target=m.Target("<=", 0.5, " s")),
            m.Row("ingest", "PostgreSQL", "/s", einvoice=30.0)]
    console = Console(width=220, record=True)
    console.print(m.table(rows, "bench"))
    text = console.export_text()
    assert text.count("start-up") == 1  # a section is named once
    assert "0.500×" in text and "yes" in text and "no" in text and "30.0/s" in text
    data = json.loads(json.dumps(m.report(rows, {"mode": "quick"})))
    assert data["targets"] == {"met": 1, "missed": 1}
    assert data["rows"][1]["ratio_einvoice_jvm"] == pytest.approx(0.5)
    assert data["rows"][1]["target"]["text"] == "≤ 0.5 s" and data["rows"][2]["met"] is None


def test_warm_rows_take_each_routes_median_and_cpu_mean() -> None:
    from bench import warm

    samples = warm.Samples()
    for wall, cpu in ((1.0, 1.0), (2.0, 1.0), (30.0, 4.0)):
        samples.add("ubl", "einvoice", wall, cpu)
        samples.add("ubl", "saxonche", wall * 2, cpu * 2)
        samples.add("ubl", "jvm", wall * 3, cpu * 3)
    samples.add("cii", "einvoice", 5.0, 5.0)
    samples.add("cii", "saxonche", 5.0, 5.0)
    samples.add("cii", "jvm", 5.0, 5.0)
    rows = {row.measure: row for row in warm.rows(samples)}
    median = rows["UBL: wall median (3 samples)"]
    assert (median.einvoice, median.saxonche, median.jvm, median.met) == (2.0, 4.0, 6.0, True)
    assert rows["UBL: CPU mean"].einvoice == pytest.approx(2.0)
    assert rows["UBL: wall p95"].jvm == 90.0 and rows["UBL: wall p95"].target is None
    assert rows["UBL+CII: wall median (4 samples)"].einvoice == pytest.approx(3.5)
    assert rows["CII: CPU mean"].met is False  # 1× is not 3×
    assert warm.rotated(0) == ("einvoice", "saxonche", "jvm")
    assert warm.rotated(4) == ("saxonche", "jvm", "einvoice")


@pytest.mark.parametrize(("head", "done"), [
    (b"", False), (b"[", False), (b'[\n  {\n    "id": 1,', False), (b'[\n  {"id": 1}', True),
    (b'  [{"id": {"n": [1, 2]}}, {"id"', True), (b"[]", True), (b"[\n]\n", True),
    (b'{"id": 1}', False), (b'error: no role\n', False)])
def test_the_first_row_of_a_json_array_is_seen_when_complete(head: bytes, done: bool) -> None:
    assert procs.first_element_done(head) is done


def test_a_child_has_its_own_peak_rss_and_first_row_time() -> None:
    ballast = bytearray(200 * 1024 * 1024)  # this process is far larger than its child
    ballast[::4096] = b"x" * len(ballast[::4096])
    small = procs.run([sys.executable, "-S", "-c", "pass"])
    assert small.status == 0 and small.rss_mb < 60, small
    big = procs.run([sys.executable, "-S", "-c", "b = bytearray(120 << 20); b[::4096] = "
                     "b'x' * len(b[::4096]); raise SystemExit(3)"])
    assert big.status == 3 and 120 < big.rss_mb < 200 and big.cpu > 0
    late = procs.run([sys.executable, "-S", "-c", "import sys, time; print('[{\"a\": 1},', "
                      "flush=True); time.sleep(0.4); print('{\"a\": 2}]')"], first_row=True)
    assert json.loads(late.out) == [{"a": 1}, {"a": 2}]
    assert late.first_row is not None and late.first_row < late.wall - 0.3
    del ballast


XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="invoice"><xs:complexType><xs:sequence>
    <xs:element name="total" type="xs:decimal"/></xs:sequence></xs:complexType></xs:element>
</xs:schema>"""
RULES = """<xsl:stylesheet version="2.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:svrl="http://purl.oclc.org/dsdl/svrl">
  <xsl:template match="/">
    <svrl:schematron-output>
      <svrl:fired-rule context="invoice"/>
      <xsl:if test="not(number(/invoice/total) &gt; 0)">
        <svrl:failed-assert id="R-1" flag="fatal" location="{path(/invoice)}"/>
      </xsl:if>
      <svrl:successful-report id="R-2" flag="warning"/>
    </svrl:schematron-output>
  </xsl:template>
</xsl:stylesheet>"""


def test_jvm_driver_counts_schema_errors_and_findings(tmp_path: Path) -> None:
    from bench import routes

    system.require("javac", "default-jdk-headless")
    if not routes.SAXON_JAR.is_file():
        system.missing(f"{routes.SAXON_JAR} missing ({system.install('libsaxonhe-java')})")
    (tmp_path / "s.xsd").write_text(XSD)
    (tmp_path / "r.xsl").write_text(RULES)
    good, bad = tmp_path / "good.xml", tmp_path / "bad.xml"
    good.write_text("<invoice><total>12.50</total></invoice>")
    bad.write_text("<invoice><total>zero</total><extra/></invoice>")
    (tmp_path / "classes").mkdir()
    classes = routes.compile_driver(tmp_path / "classes")
    route = {"tiny": routes.OfficialRoute(tmp_path / "s.xsd", (tmp_path / "r.xsl",) * 2)}
    jvm = routes.Jvm(classes, route)
    try:
        assert jvm.ready["ready"] is True and jvm.ready["saxon"]
        first = jvm.measure("tiny", good, rounds=3)
        assert (first["xsd_errors"], first["findings"]) == (0, 2)  # one report per stylesheet
        assert len(first["wall_ms"]) == len(first["cpu_ms"]) == 3
        second = jvm.measure("tiny", bad)
        assert second["xsd_errors"] >= 2 and second["findings"] == 4
        with pytest.raises(RuntimeError, match="unknown route"):
            jvm.measure("other", good)
        assert jvm.peak_rss_mb() > 20
    finally:
        jvm.close()
