"""show_results/report.py, read as a reader would: results made through a real OpenAI-protocol
server (some answers unreadable on purpose), synthetic human data, the real analysis scripts,
then the page parsed with html.parser: every figure there and embedded, every table non-empty,
coverage numbers equal to an independent count, the red banner exactly when the data are
synthetic, nothing fetched from the network; and, where Chromium is installed, rendered."""
from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import subprocess
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
N_ITEMS = 6
UNREADABLE = 2  # answers of the first RQ1 model that contain no distribution


class Page(HTMLParser):
    """The parts of the page a test reads: images, figure captions, tables, the banner, links."""

    def __init__(self):
        super().__init__()
        self.images, self.captions, self.tables, self.links, self.scripts = [], [], [], [], 0
        self.banner = False
        self._table = self._row = self._cell = None
        self._in_caption = False
        self._caption = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "script":
            self.scripts += 1
        if "href" in a or ("src" in a and tag != "img"):
            self.links.append(a.get("href") or a.get("src"))
        if tag == "div" and a.get("id") == "synthetic-banner":
            self.banner = True
        if tag == "figcaption":
            self._in_caption, self._caption = True, ""
        if tag == "table":
            self._table = {"header": [], "rows": []}
        if tag == "tr" and self._table is not None:
            self._row = []
        if tag in ("td", "th") and self._row is not None:
            self._cell = [tag, ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        if self._in_caption:
            self._caption += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(tuple(self._cell))
            self._cell = None
        if tag == "tr" and self._row is not None:
            if all(kind == "th" for kind, _ in self._row):
                self._table["header"] = [t for _, t in self._row]
            else:
                self._table["rows"].append([t for _, t in self._row])
            self._row = None
        if tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        if tag == "figcaption":
            self._in_caption = False
            self.captions.append(self._caption)


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def table_with(page: Page, *columns: str) -> dict:
    return next(t for t in page.tables if all(c in t["header"] for c in columns))


@pytest.fixture(scope="module")
def study_files(tmp_path_factory):
    """Results of two API models (RQ1, and RQ2 for one country and two methods), synthetic human
    data, and every analysis the scripts draw from them."""
    from openai_server import FakeOpenAIServer

    from utils.probing.cli import api_main
    from utils.study.analyses import run_analyses
    from utils.study.study_file import HumanSpec
    from utils.study.human_tables import prepare_human

    base = tmp_path_factory.mktemp("report")
    root, figures = base / "results", base / "figures"
    with FakeOpenAIServer() as srv:
        common = ["--base_url", srv.base_url, "--results-root", str(root), "--limit", str(N_ITEMS), "--quiet",
                  "--max-attempts", "1"]
        srv.script.extend([("content", "I would rather not say.")] * UNREADABLE)
        assert api_main(["--model_name_or_path", "model-a"] + common, script="RQ1") == 1  # unparsed rows
        assert api_main(["--model_name_or_path", "model-b"] + common, script="RQ1") == 0
        for model in ("model-a", "model-b"):
            assert api_main(["--model_name_or_path", model, "--country", "Japan",
                             "--steering_method", "persona"] + common, script="RQ2") == 0
    human = prepare_human(HumanSpec(True, {7: base / "human" / "WV7.csv"}, respondents=60), log=lambda *_: None)
    outcomes = run_analyses(root, figures, human, {"formats": "png", "min_coverage": 0}, {}, log=lambda *_: None)
    assert not [o for o in outcomes if o.status == "failed"], [o.line() for o in outcomes]
    return root, figures, human


@pytest.fixture(scope="module")
def report(study_files):
    from utils.report.build import write_report

    root, figures, human = study_files
    return write_report(root, figures, human, figures.parent / "report.html")


def test_every_figure_is_embedded_with_a_caption(study_files, report):
    _, figures, _ = study_files
    pngs = sorted(figures.rglob("*.png"))
    assert len(pngs) >= 5  # country level (2), model level, matrix, RQ2 (2), ...
    page = read_page(report)
    assert len(page.images) == len(pngs) and len(page.captions) == len(pngs)
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in page.images}
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert embedded == {p.read_bytes() for p in pngs}  # each file, byte for byte
    assert all("no caption registered" not in c for c in page.captions)


def test_every_table_has_rows_and_nothing_is_fetched(report):
    page = read_page(report)
    assert len(page.tables) >= 8
    for t in page.tables:
        assert t["header"] and t["rows"] and all(len(r) == len(t["header"]) for r in t["rows"])
    assert page.scripts == 0 and page.links == []


def test_coverage_matches_an_independent_count(study_files, report):
    root, _, _ = study_files
    expected = {}
    for path in root.rglob("results.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            statuses = Counter(r["status"] for r in csv.DictReader(fh))
        rel = path.relative_to(root).parts
        condition = "RQ1" if rel[0] == "RQ1" else f"{rel[1]}/{rel[2]}"
        expected[(rel[-2], condition)] = (statuses["ok"], statuses["unparsed"], statuses["error"])
    table = table_with(read_page(report), "model", "condition", "ok", "unparsed", "error")
    h = table["header"]
    got = {(r[h.index("model")], r[h.index("condition")]):
           (int(r[h.index("ok")]), int(r[h.index("unparsed")]), int(r[h.index("error")])) for r in table["rows"]}
    assert got == expected
    assert got[("model-a", "RQ1")] == (N_ITEMS - UNREADABLE, UNREADABLE, 0)
    assert all(int(r[h.index("items asked")]) == N_ITEMS for r in table["rows"])


def test_what_was_run_names_models_methods_and_versions(report):
    page = read_page(report)
    runs = table_with(page, "model", "probe method", "experiments")
    assert sorted((r[0], r[1], r[2]) for r in runs["rows"]) == [("model-a", "verbalized", "RQ1, RQ2"),
                                                               ("model-b", "verbalized", "RQ1, RQ2")]
    software = dict(tuple(r) for r in table_with(page, "package", "version(s)")["rows"])
    import pandas

    assert software["pandas"] == pandas.__version__ and "git commit" in software


def test_rq2_significance_table_is_shown(report):
    page = read_page(report)
    text = report.read_text(encoding="utf-8")
    assert "RQ2 with significance" in text
    assert any("persona" in " ".join(" ".join(r) for r in t["rows"]) + " ".join(t["header"]) for t in page.tables)


def test_banner_exactly_when_human_data_are_synthetic(study_files, report, tmp_path):
    from utils.report.build import write_report

    root, figures, human = study_files
    assert read_page(report).banner
    real = tmp_path / "WV7.csv"
    shutil.copy(human[7], real)
    meta = json.loads(human[7].with_suffix(".meta.json").read_text(encoding="utf-8"))
    real.with_suffix(".meta.json").write_text(json.dumps({**meta, "synthetic": False}), encoding="utf-8")
    assert not read_page(write_report(root, figures, [real], tmp_path / "r.html")).banner


def test_nothing_to_report_is_one_line(tmp_path):
    from utils.core.errors import UserError
    from utils.report.build import write_report

    with pytest.raises(UserError, match="nothing to report"):
        write_report(tmp_path / "none", tmp_path / "nofig", [], tmp_path / "r.html")


def test_script_writes_the_page(study_files, tmp_path):
    root, figures, human = study_files
    out = tmp_path / "page.html"
    proc = subprocess.run(["python", str(ROOT / "show_results" / "report.py"), "--results-root", str(root),
                           "--figures", str(figures), "--human", str(human[7]), "--out", str(out)],
                          check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert read_page(out).banner and len(read_page(out).images) == len(list(figures.rglob("*.png")))


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


# .ci/run installs Chromium, so in CI (CI=true) a missing browser fails the test rather than skipping it
@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="no headless Chromium installed")
def test_page_renders_in_chromium(report, tmp_path):
    from PIL import Image

    assert chromium(), "no headless Chromium: .ci/run installs Debian's chromium"
    shot = tmp_path / "shot.png"
    # a fresh profile and no background services: on a closed network their connections would hang
    proc = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                           f"--screenshot={shot}", "--window-size=1200,1600", report.as_uri()],
                          check=False, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), proc.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    assert pixels.std() > 20  # not one flat colour
    red = (pixels[..., 0] > 170) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert red[:400].mean() > 0.01  # the red banner is near the top


def test_paper_compat_tables_get_their_own_section(study_files, tmp_path):
    import pandas as pd

    from utils.report.build import write_report

    root, figures, human = study_files
    figs = tmp_path / "figs"
    shutil.copytree(figures, figs)
    pd.DataFrame({"model": ["model-a"], "country": ["Japan"], "score": [0.8123]}).to_csv(
        figs / "rq1_country_scores_paper_compat.csv", index=False)
    text = write_report(root, figs, human, tmp_path / "r.html").read_text(encoding="utf-8")
    section = text.split("Reproduction: the original arithmetic", 1)[1].split("<h2>", 1)[0]
    assert "rq1_country_scores_paper_compat.csv" in section and "0.8123" in section
