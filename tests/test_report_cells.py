"""What the report shows in four places a reader tripped over (issue 20, §4): the decoding cell
names what each probe method used, the sensitivity title names the variants that were run,
country codes are integers, and a large matrix is shown large enough to read."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from test_figures import _figure_titled, args, case, open_figures, write_results  # noqa: F401 - fixtures
from wvs_fixtures import load_script

from utils.analysis.figures.style import figure
from utils.report import html as H
from utils.report.build import read_csv
from utils.report.run_info import run_info_section

ARGS = {"temperature": 0.0, "retry_temperature": 0.7, "max_new_tokens": 256, "max_attempts": 3, "samples": 20,
        "sample_temperature": 1.0}


def cells(html: str) -> list[list[str]]:
    """The body rows of the first table, as text."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in body.split("</tr>") if "<td" in row]


def test_decoding_cell_names_what_the_method_used(tmp_path):
    for method in ("logprob", "sample", "verbalized"):
        d = tmp_path / method / "RQ1" / "m"
        d.mkdir(parents=True)
        (d / "run_meta.json").write_text(json.dumps({"model": "m", "method": method, "experiment": "RQ1",
                                                     "arguments": {"method": method, **ARGS}}))
    rows = {r[1]: r[-1] for r in cells(run_info_section(tmp_path))}
    assert "temperature" not in rows["logprob"] and "max" not in rows["logprob"]
    assert rows["logprob"].startswith("none")
    assert rows["sample"] == "samples 20, sample temperature 1.0, max tokens 256"
    assert rows["verbalized"] == "temperature 0.0, retry temperature 0.7, max tokens 256, attempts 3"


def test_sensitivity_title_names_the_variants_run(case, open_figures):  # noqa: F811
    human, res, out = case
    write_results(res / "Discussion" / "sensitivity" / "order" / "org" / "m1" / "results.csv",
                  {"Q1": {"1": 100}, "Q57": {"1": 50, "2": 50}, "Q119": {"1": 100}})
    assert load_script("show_results/sensitivity.py").main(args(human, res, out)) == 0
    fig = _figure_titled(open_figures(), "Sensitivity")
    assert fig._suptitle.get_text() == "Sensitivity: default prompt vs. the order variant"


def test_country_codes_are_integers_in_the_report(case):  # noqa: F811
    human, res, out = case
    assert load_script("show_results/human_alignment_matrix.py").main(args(human, res, out, "--countries",
                                                                          "156,276")) == 0
    path = out / "human_alignment_matrix_2.csv"
    table = H.frame_table(read_csv(path), source=path)
    header = re.findall(r"<th>(.*?)</th>", table)
    codes = [r[header.index("country_code")] for r in cells(table)]
    assert sorted(codes) == ["", "", "156", "276"]  # the two models have no code
    scores = [r[header.index("China")] for r in cells(table)]
    assert all(re.fullmatch(r"\d\.\d{4}", s) for s in scores)  # scores keep their four decimals


def test_whole_numbers_leaves_scores_and_fractional_codes_alone():
    df = pd.DataFrame({"country_code": [434.0, None], "score": [1.0, 0.5], "n_items": [12.0, 3.0],
                       "odd_code": [1.5, 2.0]})
    out = H.whole_numbers(df)
    assert out["country_code"].tolist()[0] == 434 and pd.isna(out["country_code"].tolist()[1])
    assert str(out["n_items"].dtype) == "Int64"
    assert out["score"].dtype == float and out["odd_code"].dtype == float


@pytest.mark.parametrize("inches, large", [(6, False), (16, True)])
def test_a_wide_figure_fits_the_page_and_opens_at_full_size(tmp_path, inches, large):
    """Issue 28: a figure wider than the page was shown at full size in a box, cut off until one
    scrolled. Every figure now fits the page's width; a wider one toggles to full size on a click
    (a hidden checkbox and its label: no JavaScript), and nothing is ever wider than the page."""
    fig, ax = figure((inches, inches))
    ax.plot([0, 1], [0, 1])
    path = tmp_path / "f.png"
    fig.savefig(path, dpi=150)
    width = inches * 150
    assert H.png_size(path.read_bytes())[0] == width
    html = H.image(path, "x")
    assert "width=" not in html and "figure img{max-width:100%" in H.STYLE  # fitted, never cut off
    if large:
        key = re.search(r'<input type="checkbox" class="zoom-toggle" id="([\w-]+)">', html).group(1)
        assert f'<label for="{key}"' in html and f"full size ({width} px wide)" in html
        assert ".zoom-toggle:checked+label img{max-width:none" in H.STYLE  # the click shows every pixel
        assert ".zoom-toggle{display:none}" in H.STYLE
    else:
        assert "zoom" not in html and "<label" not in html


def test_an_analysis_with_nothing_to_show_says_why_on_the_page(tmp_path):
    """Issue 28: the demo's internal-consistency section said "ok" with nothing to show for the model.
    The script now ends with one line saying what is missing, and the page lists it."""
    from utils.report.build import not_drawn_section, write_report

    logs = tmp_path / "logprob" / "logs"
    logs.mkdir(parents=True)
    (logs / "internal_consistency.log").write_text("python show_results/internal_consistency.py ...\n"
                                                   "error: no model answered every item of a topic (...)\n")
    (logs / "rq1_country_level.log").write_text("python show_results/rq1_country_level.py ...\nwrote x.csv\n")
    html = not_drawn_section(tmp_path)
    assert "<h2>Analyses with nothing to show</h2>" in html
    page = write_report(tmp_path / "no-results", tmp_path, [], tmp_path / "report.html").read_text(encoding="utf-8")
    assert html in page  # the page carries the section
    assert "logprob/internal_consistency" in html and "no model answered every item of a topic" in html
    assert "rq1_country_level" not in html
    (logs / "internal_consistency.log").write_text("python show_results/internal_consistency.py ...\nwrote x.csv\n")
    assert not_drawn_section(tmp_path) == ""
