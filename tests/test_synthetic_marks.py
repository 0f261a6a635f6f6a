"""Synthetic human data never pass as real (issue 28, defect 3).

The synthetic tables get their own default name (`dataset/human/WV<wave>_synthetic.csv`, never
the real table's `WV<wave>.csv`); a study's input check says "synthetic" for one; and every
table a script writes from one says so in its own format: a `human_data` column valued
`synthetic` in every CSV row, a first line in Markdown, a comment and a caption note in LaTeX,
and a first line on the console. The same scripts on a table whose `.meta.json` says it is real
write none of these marks, so the marks follow the data, not the script.
"""
from __future__ import annotations

import io
import json
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
from test_figures import M1, M2, _steering_inputs, write_human, write_results
from wvs_fixtures import load_script, microdata

from utils.analysis.tables import SYNTHETIC_NOTE
from utils.study.study_file import load_study
from utils.study.inputs import human_inputs


def test_synthetic_tables_get_their_own_default_names(tmp_path, monkeypatch, capsys):
    make = load_script("dataset/make_synthetic_wvs.py")
    prepare = load_script("dataset/prepare_wvs.py")
    import utils.core.human.prepare as library  # the defaults, written under tmp_path, not the repository

    monkeypatch.setattr(library, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(library, "HUMAN_DIR", tmp_path / "dataset" / "human")
    assert make.main(["--wave", "7", "--countries", "156,276", "--respondents", "20"]) == 0
    raw = tmp_path / "dataset" / "human" / "raw" / "synthetic_WV7.csv"
    assert raw.is_file()
    assert prepare.main(["--wave", "7", "--input", str(raw)]) == 0
    human = tmp_path / "dataset" / "human"
    assert (human / "WV7_synthetic.csv").is_file() and not (human / "WV7.csv").exists()
    assert json.loads((human / "WV7_synthetic.meta.json").read_text())["synthetic"] is True
    real = tmp_path / "wv7.csv"  # a file without the SYNTHETIC_DATA column keeps the real default name
    microdata(7, seed=1).to_csv(real, index=False)
    assert prepare.main(["--wave", "7", "--input", str(real)]) == 0
    assert (human / "WV7.csv").is_file() and json.loads((human / "WV7.meta.json").read_text())["synthetic"] is False
    # the real table missing, the analysis points at the synthetic one instead of leaving the user guessing
    (human / "WV7.csv").unlink()
    script = load_script("show_results/rq1_country_level.py")
    capsys.readouterr()
    assert script.main(["--human", str(human / "WV7.csv"), "--results-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "WV7_synthetic.csv holds synthetic data: pass it as --human" in err and err.count("\n") == 1


def test_the_study_input_check_says_synthetic(tmp_path):
    synthetic, real = write_human(tmp_path / "WV7.csv"), write_human(tmp_path / "WV6.csv", wave=6)
    real.with_suffix(".meta.json").write_text(json.dumps({"wave": 6, "synthetic": False}))
    config = tmp_path / "study.toml"
    config.write_text(textwrap.dedent(f"""
        [[models]]
        backend = "local"
        [experiments.RQ1]
        [human]
        tables = {{ 7 = "{synthetic}", 6 = "{real}" }}
    """), encoding="utf-8")
    found = {i.name: i for i in human_inputs(load_study(config))}
    assert not found[str(synthetic)].missing and "SYNTHETIC" in found[str(synthetic)].note
    assert not found[str(real)].missing and found[str(real)].note == ""


def outputs(tmp_path: Path, synthetic: bool) -> tuple[Path, list[str]]:
    """rq1_country_level and rq2_steering, each by default and with --paper-compat, on a small tree, against human data marked synthetic or real; the outputs'
    folder and what each script printed."""
    human = write_human(tmp_path / "WV7.csv")
    human.with_suffix(".meta.json").write_text(json.dumps({"wave": 7, "synthetic": synthetic}))
    res, out = tmp_path / "results", tmp_path / "out"
    write_results(res / "RQ1" / "org" / "m1" / "results.csv", M1)
    write_results(res / "RQ1" / "m2" / "results.csv", M2)
    for model, answers in (("org/m1", M2), ("m2", M1)):
        write_results(res / "RQ2" / "persona" / "China" / model / "results.csv", answers)
    common = ["--human", str(human), "--results-root", str(res), "--out", str(out), "--formats", "png"]
    inputs = ["--inputs-dir", str(_steering_inputs(tmp_path))]
    printed = []
    for name, extra in (("rq1_country_level", ["--n-boot", "20", "--repeats", "2"]), ("rq2_steering", inputs),
                        ("rq2_steering", inputs + ["--paper-compat"]), ("rq1_country_level", ["--paper-compat"])):
        script = load_script(f"show_results/{name}.py")
        buf = io.StringIO()
        with redirect_stdout(buf):
            assert script.main(common + extra) == 0, name
        printed.append(buf.getvalue())
    return out, printed


@pytest.mark.parametrize("synthetic", [True, False])
def test_every_table_drawn_from_synthetic_data_says_so(tmp_path, synthetic):
    out, printed = outputs(tmp_path, synthetic)
    csvs, mds, texs = (sorted(out.glob(f"*.{ext}")) for ext in ("csv", "md", "tex"))
    assert len(csvs) >= 8 and {"rq2_paper_table.md", "rq2_paper_table_paper_compat.md"} <= {p.name for p in mds}
    assert {p.stem for p in texs} == {p.stem for p in mds}
    for path in csvs:  # machine-readable: one more column, valued `synthetic` in every row
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if synthetic:
            assert df.columns[-1] == "human_data" and (df["human_data"] == "synthetic").all(), path.name
        else:
            assert "human_data" not in df.columns, path.name
    for path in mds:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert (SYNTHETIC_NOTE in first) == synthetic, path.name
        assert first.startswith("**" if synthetic else "| "), path.name
    for path in texs:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"% {SYNTHETIC_NOTE}\n") == synthetic, path.name
        caption = next(line for line in text.splitlines() if line.startswith(r"\caption"))
        assert ("Synthetic human data (not WVS)" in caption) == synthetic, path.name
    for text in printed:  # the console: the first line each script prints, and only there
        assert text.splitlines()[0].startswith(SYNTHETIC_NOTE) == synthetic, text[:200]
        assert text.count(SYNTHETIC_NOTE) == int(synthetic)
