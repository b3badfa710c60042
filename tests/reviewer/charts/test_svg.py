import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from reviewer.charts import svg

NS = "{http://www.w3.org/2000/svg}"


def rects(markup):
    return [r.attrib for r in ET.fromstring(markup).iter(f"{NS}rect")]


def test_the_chart_package_has_no_django():
    code = "import sys, reviewer.charts.svg; print('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_stacked_bar_splits_the_width_by_share_and_names_each_count():
    markup = svg.stacked_bar([("Imported", 1), ("Approved", 3), ("Empty", 0)], width=400)
    bars = [r for r in rects(markup) if r.get("height") == "22"]
    assert [(b["x"], b["width"]) for b in bars] == [("0", "100"), ("100", "300")]
    assert "Approved: 3 (75 %)" in markup
    assert "Approved 3" in markup  # legend
    assert "Empty 0" in markup


def test_stacked_columns_stack_series_and_scale_to_the_largest_day():
    markup = svg.stacked_columns(
        ["1 Dec", "2 Dec"], [svg.Series("a", [1, 2]), svg.Series("b", [1, 2])], width=244, height=140
    )
    plot = [r for r in rects(markup) if r.get("width") != "10"]
    heights = [float(r["height"]) for r in plot]
    assert heights == [25.0, 25.0, 50.0, 50.0]  # plot height 100; the 2 Dec column (4) fills it
    assert '<text x="40" y="10" font-size="10" text-anchor="end">4</text>' in markup


def test_bars_show_percent_and_a_gap_for_no_data():
    markup = svg.bars(["small", "large"], [svg.Series("recall", [0.5, None])], maximum=1, percent=True)
    assert "small · recall: 50 %" in markup
    assert ">n/a</text>" in markup


def test_sparkbars_scale_to_the_largest_value_and_mark_zero_days():
    markup = svg.sparkbars([0, 2, 4], width=30, height=20)
    bars = rects(markup)
    assert [float(b["height"]) for b in bars] == [0.5, 10.0, 20.0]
    assert bars[0]["fill"] == "#cccccc"


def test_labels_are_escaped():
    markup = svg.stacked_bar([("<script>", 1)], label='a "b" <c>')
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    ET.fromstring(markup)  # still well-formed


def test_progress_writes_its_fraction():
    markup = svg.progress(3, 4, width=100)
    assert re.search(r'width="75" height="12"', markup)
    assert ">3 / 4</text>" in markup
