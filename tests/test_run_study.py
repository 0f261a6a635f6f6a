"""code/run_study.py end to end. Fast: API models behind a real OpenAI-protocol server, one model
that cannot start (no key), so the others must still finish, the summary must name what is
missing and the command to finish it, and a second start must ask nothing. Slow: the bundled
model, the study killed (SIGKILL of its process group) at a random moment and restarted, ends
with the same results and the same report tables as a run never interrupted."""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from study_files import RQ1_AND_JAPAN, api_model, head
from test_report import read_page

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "code" / "run_study.py"


# What both test studies run and analyse.
EXPERIMENTS_AND_ANALYSIS = RQ1_AND_JAPAN + textwrap.dedent("""\
    [analysis]
    formats = "png"
    min_coverage = 0
    only = ["rq1_country_level", "rq2_steering"]
    """)


def run_study_main():
    spec = importlib.util.spec_from_file_location("run_study_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def api_study(tmp_path: Path, base_url: str) -> Path:
    text = """
    [[models]]
    name = "locked"
    backend = "api"
    model_name_or_path = "gpt-4o"
    api_key_env = "STUDY_TEST_KEY_THAT_IS_NOT_SET"

    """
    path = tmp_path / "tiny.toml"
    path.write_text(head(tmp_path, "tiny") + api_model(base_url) + textwrap.dedent(text) + EXPERIMENTS_AND_ANALYSIS,
                    encoding="utf-8")
    return path


def test_failed_model_does_not_stop_others_and_rerun_asks_nothing(tmp_path, capsys, monkeypatch):
    from openai_server import FakeOpenAIServer

    monkeypatch.delenv("STUDY_TEST_KEY_THAT_IS_NOT_SET", raising=False)
    main = run_study_main()
    with FakeOpenAIServer() as srv:
        config = api_study(tmp_path, srv.base_url)
        assert main(["--config", str(config), "--ask-anyway"]) == 1  # the locked model is missing
        first = capsys.readouterr().out
        asked = len(srv.requests)
        assert asked == 8  # 4 items x (RQ1, RQ2 persona/Japan), model-a only
        assert "model-a: complete (2 condition(s))" in first
        assert "locked: FAILED" in first and "STUDY_TEST_KEY_THAT_IS_NOT_SET" in first
        assert f"--config {config} --models locked" in first
        assert (tmp_path / "report.html").is_file()
        assert sorted(p.name for p in (tmp_path / "figures" / "verbalized").glob("*.png")) == [
            "rq1_country_all.png", "rq1_country_top_bottom.png", "rq1_world_map.png", "rq2_steering_gains.png",
            "rq2_steering_table.png"]

        assert main(["--config", str(config), "--models", "model-a"]) == 0
        second = capsys.readouterr().out
        assert len(srv.requests) == asked  # nothing asked again
        assert "no model was loaded" in second and "analyses up to date" in second, second
        assert "everything complete" in second
    page = read_page(tmp_path / "report.html")
    assert page.banner and len(page.images) == 5


def test_dry_run_needs_no_key_and_sends_nothing(tmp_path, capsys, monkeypatch):
    from openai_server import FakeOpenAIServer

    monkeypatch.delenv("STUDY_TEST_KEY_THAT_IS_NOT_SET", raising=False)
    with FakeOpenAIServer() as srv:
        assert run_study_main()(["--config", str(api_study(tmp_path, srv.base_url)), "--dry-run"]) == 0
        assert srv.requests == []
    out = capsys.readouterr().out
    assert "locked" in out and "model-a" in out and not (tmp_path / "results").exists()


def test_missing_inputs_are_listed_by_the_dry_run_and_stop_the_real_run(tmp_path, capsys, monkeypatch):
    """A human table that is not there and a key that is not set: the dry run names both, the real
    run asks nothing until they are there or it is told --ask-anyway."""
    from openai_server import FakeOpenAIServer

    monkeypatch.delenv("STUDY_TEST_KEY_THAT_IS_NOT_SET", raising=False)
    main = run_study_main()
    table = tmp_path / "human" / "WV7.csv"
    with FakeOpenAIServer() as srv:
        config = api_study(tmp_path, srv.base_url)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("synthetic = true\nrespondents = 60", f'tables = {{7 = "{table}"}}'),
                          encoding="utf-8")
        assert main(["--config", str(config), "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "inputs (2 missing)" in out
        assert any("MISSING" in line and str(table) in line and "prepare_wvs.py" in line for line in out.splitlines())
        assert any("MISSING" in line and "STUDY_TEST_KEY_THAT_IS_NOT_SET" in line and "locked" in line
                   for line in out.splitlines())
        assert any(line.lstrip().startswith("ok") and srv.base_url in line for line in out.splitlines())

        assert main(["--config", str(config)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "nothing was asked" in err and "--ask-anyway" in err
        assert f"human data {table}" in err and "API key STUDY_TEST_KEY_THAT_IS_NOT_SET (locked)" in err
        assert srv.requests == [] and not (tmp_path / "results").exists()

        assert main(["--config", str(config), "--models", "model-a", "--ask-anyway"]) == 1  # no human data
        assert len(srv.requests) == 8
        assert f"missing, asking anyway: human data {table}" in capsys.readouterr().out


def test_misspelled_flag_gets_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exc:
        run_study_main()(["--confg", "configs/demo.toml"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "did you mean --config?" in err


def test_bad_config_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[models]]\nbackend = 'local'\n[experiments.RQ9]\n", encoding="utf-8")
    assert run_study_main()(["--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key(s) RQ9 in [experiments]" in err


# -- the bundled model, killed and restarted ----------------------------------------------------
def local_study(folder: Path) -> Path:
    text = f"""
    [study]
    name = "kill"

    [output]
    results_root = "{folder}/results"
    figures = "{folder}/figures"
    report = "{folder}/report.html"
    human_dir = "{folder}/human"

    [probe]
    methods = ["logprob"]
    limit = 3
    quiet = true

    [[models]]
    backend = "local"

    """
    path = folder / "kill.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text) + EXPERIMENTS_AND_ANALYSIS, encoding="utf-8")
    return path


def start(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def distributions(root: Path) -> dict[tuple[str, str], dict[str, float]]:
    out = {}
    for path in root.rglob("results.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                assert row["status"] == "ok", row
                out[(str(path.parent.relative_to(root)), row["id"])] = json.loads(row["distribution"])
    return out


def report_tables(path: Path) -> list[dict]:
    """The page's tables without the ones that hold times and paths (what was run, software, human data)."""
    skip = ({"first started"}, {"package"}, {"made from"})
    return [t for t in read_page(path).tables if not any(s <= set(t["header"]) for s in skip)]


def same_tables(a: list[dict], b: list[dict], tol: float = 2e-3) -> bool:
    if len(a) != len(b):
        return False
    for ta, tb in zip(a, b):
        if ta["header"] != tb["header"] or len(ta["rows"]) != len(tb["rows"]):
            return False
        for ra, rb in zip(ta["rows"], tb["rows"]):
            for x, y in zip(ra, rb):
                try:
                    if abs(float(x) - float(y)) > tol:
                        return False
                except ValueError:
                    if x != y:
                        return False
    return True


@pytest.mark.slow
def test_killed_at_random_and_restarted_ends_like_an_uninterrupted_run(tmp_path):
    clean = local_study(tmp_path / "clean")
    started = time.monotonic()
    proc = start(clean)
    out, _ = proc.communicate(timeout=900)
    duration = time.monotonic() - started
    assert proc.returncode == 0, out

    killed = local_study(tmp_path / "killed")
    moment = random.Random().uniform(2.0, 0.9 * duration)
    proc = start(killed)
    try:
        proc.wait(timeout=moment)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stdout.close()
    restarted = start(killed)
    out, _ = restarted.communicate(timeout=900)
    assert restarted.returncode == 0, f"killed at {moment:.1f}s of {duration:.1f}s:\n{out}"

    a, b = distributions(tmp_path / "clean" / "results"), distributions(tmp_path / "killed" / "results")
    assert a.keys() == b.keys() and len(a) == 6  # 3 items x (RQ1 + 1 RQ2 condition)
    for key in a:
        assert a[key].keys() == b[key].keys()
        assert all(abs(a[key][k] - b[key][k]) < 1e-4 for k in a[key]), (key, moment)
    assert same_tables(report_tables(tmp_path / "clean" / "report.html"),
                       report_tables(tmp_path / "killed" / "report.html")), f"killed at {moment:.1f}s"
