"""Paths as a user types them: `--out` is a folder for the figure scripts and a file for
parse_report.py and report.py, and each mistake is one line before any scoring; a relative path
that exists only from the repository root is named ("did you mean ...?"), and a missing path is
shown in full. Run from a temporary directory, as a user in another folder would."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(cwd: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def one_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("script", ["show_results/rq1_country_level.py", "show_results/sensitivity.py"])
def test_out_naming_an_existing_file_is_one_line(tmp_path, script):
    (tmp_path / "figs").write_text("not a folder")
    err = one_line(run(tmp_path, script, "--out", "figs"))
    assert f"--out {tmp_path / 'figs'} is a file, but --out is the folder this script writes" in err
    err = one_line(run(tmp_path, script, "--out", "figs/rq1"))
    assert f"{tmp_path / 'figs'} is a file" in err


def test_a_file_name_for_a_folder_out_is_refused(tmp_path):
    err = one_line(run(tmp_path, "show_results/rq1_model_level.py", "--out", "scores.csv"))
    assert "--out scores.csv is a file name, but --out is the folder" in err and "e.g. --out scores" in err
    assert not (tmp_path / "scores.csv").exists()


def test_parse_report_out_is_a_file_and_a_folder_there_is_refused(tmp_path):
    (tmp_path / "report").mkdir()
    err = one_line(run(tmp_path, "show_results/parse_report.py", "--out", "report"))
    assert f"--out {tmp_path / 'report'} is a folder, but --out is the one file this script writes" in err


@pytest.mark.parametrize("script", ["show_results/rq1_country_level.py", "show_results/parse_report.py",
                                    "show_results/report.py"])
def test_help_says_whether_out_is_a_folder_or_a_file(tmp_path, script):
    text = " ".join(run(tmp_path, script, "--help").stdout.split())
    assert ("the FOLDER this script writes" in text) == (script == "show_results/rq1_country_level.py")
    assert ("FILE to write" in text) == (script != "show_results/rq1_country_level.py")


def test_a_relative_path_that_exists_only_from_the_repository_is_named(tmp_path):
    """`dataset/countries.json` exists from the repository root, not from here."""
    err = one_line(run(tmp_path, "show_results/rq1_country_level.py", "--human", "dataset/countries.json"))
    assert (f"human data {tmp_path / 'dataset' / 'countries.json'} not found; did you mean "
            f"{ROOT / 'dataset' / 'countries.json'}? paths are relative to the current directory ({tmp_path})") in err
    assert "prepare_wvs.py first" not in err  # the file is there, only the path is wrong
    err = one_line(run(tmp_path, "show_results/rq1_model_level.py", "--results-root", "results"))
    assert f"--results-root {tmp_path / 'results'} not found; did you mean {ROOT / 'results'}?" in err
    err = one_line(run(tmp_path, "code/run_study.py", "--config", "configs/demo.toml", "--dry-run"))
    assert f"study file {tmp_path / 'configs' / 'demo.toml'} not found; did you mean {ROOT / 'configs' / 'demo.toml'}?" in err
    err = one_line(run(tmp_path, "dataset/prepare_wvs.py", "--wave", "7", "--input", "dataset/countries.json"))
    assert f"did you mean {ROOT / 'dataset' / 'countries.json'}?" in err


def test_a_missing_path_is_shown_in_full(tmp_path):
    err = one_line(run(tmp_path, "show_results/rq1_country_level.py", "--human", "WV7.csv"))
    assert f"human data {tmp_path / 'WV7.csv'} not found; run dataset/prepare_wvs.py first" in err
