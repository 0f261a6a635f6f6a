"""Past one machine: `--shard I/N` (a condition's items in N files, read back as one) and several
`--base_url` (replicas of one model, one of which stops mid-run), against real local servers.

    unsharded     RQ1/test-model/results.csv                 Q1..Q6
    2 shards      RQ1/test-model/shard-1-of-2/results.csv    Q1..Q3
                  RQ1/test-model/shard-2-of-2/results.csv    Q4..Q6   read as one: the same rows

The analysis (show_results/rq1_country_level.py) must write the same table from both, and name a
shard that is not there.
"""
from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from openai_server import FakeOpenAIServer
from wvs_fixtures import load_script

from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.results.spec import Shard
from utils.core.results.table import read_complete
from utils.core.results.tree import find_results, one_per_condition
from utils.probing.cli import api_main

IDS = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
VOLATILE = ("latency_s", "finished_at")  # wall-clock columns


def ask(srv_urls, root, *extra: str, ids=IDS) -> int:
    urls = [a for u in srv_urls for a in ("--base_url", u)]
    which = ["--ids", ",".join(ids)] if ids else []
    return api_main(["--model_name_or_path", "test-model", *urls, *which, "--results-root", str(root), "--quiet",
                     *extra])


def rows(path):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in read_complete(path).rows]


def human_table(tmp_path):
    """Two countries' answers to the six items, made up (option k counted k + country times)."""
    items = {it.id: it for it in load_questionnaire(questionnaire_path("English"))}
    out = []
    for code, name in ((156, "China"), (276, "Germany")):
        for item_id in IDS:
            for k, option in enumerate(items[item_id].choice_keys):
                n = 1 + (k * code) % 7
                out.append({"wave": 7, "country_code": code, "country": name, "item_id": item_id, "variable": item_id,
                            "option": option, "status": "valid", "count": n, "weighted_count": n})
    path = tmp_path / "WV7.csv"
    pd.DataFrame(out).to_csv(path, index=False)
    path.with_suffix(".meta.json").write_text(json.dumps({"wave": 7, "synthetic": True}))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shards")
    with FakeOpenAIServer() as srv:
        assert ask([srv.base_url], tmp / "whole") == 0
        for i in (1, 2):
            assert ask([srv.base_url], tmp / "sharded", "--shard", f"{i}/2") == 0
    return tmp


def country_table(root, human, out, capsys, *extra):
    mod = load_script("show_results/rq1_country_level.py")
    rc = mod.main(["--human", str(human), "--results-root", str(root), "--out", str(out), "--formats", "png",
                   "--n-boot", "20", *extra])
    return rc, capsys.readouterr()


def test_each_shard_writes_its_own_file_with_its_slice(runs):
    model = runs / "sharded" / "RQ1" / "test-model"
    assert not (model / "results.csv").exists()
    first, second = (read_complete(model / f"shard-{i}-of-2" / "results.csv") for i in (1, 2))
    assert [r["id"] for r in first.rows] == IDS[:3] and [r["id"] for r in second.rows] == IDS[3:]
    assert first.spec.shard == Shard(1, 2) and {r["shard"] for r in second.rows} == {"2/2"}


def test_the_shards_read_back_as_the_unsharded_file(runs):
    [whole] = one_per_condition(find_results(runs / "whole"))
    [sharded] = one_per_condition(find_results(runs / "sharded"))
    assert sharded.path == runs / "sharded" / "RQ1" / "test-model" / "results.csv" and sharded.spec == whole.spec
    assert rows(sharded.path) == rows(whole.path)  # the same items, values and identity, in the same order


def test_the_analysis_of_the_shards_equals_that_of_the_unsharded_run(runs, tmp_path, capsys):
    human = human_table(tmp_path)
    tables = []
    for name in ("whole", "sharded"):
        rc, said = country_table(runs / name, human, tmp_path / name, capsys)
        assert rc == 0, said.err
        tables.append(pd.read_csv(tmp_path / name / "rq1_country_scores.csv"))
    assert len(tables[0]) == 2
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_a_missing_shard_is_named_in_one_line(runs, tmp_path, capsys):
    root = tmp_path / "results"
    shutil.copytree(runs / "sharded", root)
    shutil.rmtree(root / "RQ1" / "test-model" / "shard-2-of-2")
    human = human_table(tmp_path)
    rc, said = country_table(root, human, tmp_path / "out", capsys)
    assert rc == 2
    [line] = said.err.strip().splitlines()
    assert "shard-2-of-2 missing" in line and "--min-coverage" in line
    rc, said = country_table(root, human, tmp_path / "out", capsys, "--min-coverage", "0")  # as any unfinished run
    assert rc == 0, said.err
    assert sum("shard-2-of-2 missing" in x for x in said.out.splitlines()) == 1


def without_second_shard(runs, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(runs / "sharded", root)
    (root / "RQ1" / "test-model" / "shard-2-of-2" / "results.csv").unlink()  # its file gone, its folder kept
    return root


def test_parse_report_names_a_missing_shard(runs, tmp_path, capsys):
    root = without_second_shard(runs, tmp_path)
    rc = load_script("show_results/parse_report.py").main(["--results-root", str(root), "--out",
                                                              str(tmp_path / "parse_report.csv")])
    out = capsys.readouterr().out
    assert rc == 0, out
    [line] = [x for x in out.splitlines() if "shard-2-of-2 missing" in x]
    assert line.startswith("note: ") and str(root / "RQ1" / "test-model") in line
    assert "overall: 3/3 parsed" in out  # the shard there is read; the other's items are absent
    load_script("show_results/parse_report.py").main(["--results-root", str(runs / "sharded"), "--out",
                                                      str(tmp_path / "whole.csv")])
    assert "missing" not in capsys.readouterr().out


def test_the_reports_coverage_names_a_missing_shard(runs, tmp_path):
    from test_report import read_page

    from utils.report.build import write_report

    root = without_second_shard(runs, tmp_path)
    page = read_page(write_report(root, tmp_path / "figures", [], tmp_path / "report.html"))
    [table] = [t for t in page.tables if "condition" in t["header"] and "missing" in t["header"]]
    h = table["header"]
    got = [(r[h.index("condition")], r[h.index("ok")], r[h.index("missing")]) for r in table["rows"]]
    assert got == [("RQ1 [shard-1-of-2]", "3", "0"), ("RQ1 [shard-2-of-2]", "", "no file (shard missing)")]
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert text.count("shard(s) shard-2-of-2 missing (1 of 2)") == 1
    whole = read_page(write_report(runs / "sharded", tmp_path / "figures", [], tmp_path / "whole.html"))
    [table] = [t for t in whole.tables if "condition" in t["header"] and "missing" in t["header"]]
    assert [r[h.index("condition")] for r in table["rows"]] == ["RQ1 [shard-1-of-2]", "RQ1 [shard-2-of-2]"]
    assert "missing (" not in (tmp_path / "whole.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["0/2", "3/2", "x", "1/0"])
def test_a_bad_shard_is_one_clear_line(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as stopped:  # the flag's parser: nothing is planned, loaded or sent
        ask(["http://127.0.0.1:9/v1"], tmp_path, "--shard", value)
    assert stopped.value.code == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--shard" in line and value in line and ("I/N" in line or "1 to N" in line or "N must" in line)


def test_two_servers_one_stopped_mid_run_give_the_rows_of_one(tmp_path, caplog):
    ids = None  # the first 20 items
    with FakeOpenAIServer() as one:
        assert ask([one.base_url], tmp_path / "one", "--limit", "20", ids=ids) == 0
    with FakeOpenAIServer() as a, FakeOpenAIServer(stop_after=3) as b:
        assert ask([a.base_url, b.base_url], tmp_path / "two", "--concurrency", "2", "--limit", "20", ids=ids) == 0
        assert b.stopped.is_set() and len(b.requests) >= 3 and len(a.requests) >= 17
    said = [r.getMessage() for r in caplog.records if "stopped answering" in r.getMessage()]
    assert len(said) == 1 and b.base_url.rstrip("/") in said[0]
    path = ("RQ1", "test-model", "results.csv")
    assert rows(tmp_path.joinpath("two", *path)) == rows(tmp_path.joinpath("one", *path))


def test_every_study_job_takes_the_shard():
    from utils.study.plan import study_jobs
    from utils.study.study_file import load_study

    jobs = study_jobs(load_study("configs/demo.toml"), None, Shard(2, 3))
    conditions = [c for js in jobs.values() for j in js for c in j.conditions]
    assert conditions and all(j.config.shard == Shard(2, 3) for js in jobs.values() for j in js)
    assert all(c.spec.shard == Shard(2, 3) for c in conditions)
