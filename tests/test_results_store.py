"""Result storage: resume, torn tails, locking, hand-edited files, safe result paths."""
from __future__ import annotations

import csv

import pytest

from utils.core.errors import UserError
from utils.core.paths import model_folder, results_dir
from utils.core.questionnaire import load_questionnaire, questionnaire_path
from utils.core.records import ProbeResult
from utils.core.results.table import read_table
from utils.core.results.schema import COLUMNS
from utils.probing.results_store import ResultStore, result_row


@pytest.fixture(scope="module")
def items():
    return load_questionnaire(questionnaire_path())[:5]


def ok_row(item, p1=0.5):
    dist = {k: 0.0 for k in item.choice_keys}
    dist[item.choice_keys[0]], dist[item.choice_keys[1]] = p1, 1 - p1
    return result_row(item, ProbeResult(item.id, "ok", dist, response=str(dist)), "verbalized")


def test_append_resume_and_newest_row_wins(tmp_path, items):
    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        store.append(result_row(items[0], ProbeResult(items[0].id, "unparsed", None, error="no_mapping"), "verbalized"))
        store.append(ok_row(items[1]))
    with ResultStore(path) as store:
        assert store.finished_ids() == {items[1].id}
        store.append(ok_row(items[0], 0.25))
        store.compact([i.id for i in items])
    rows = read_table(path).rows
    assert [r["id"] for r in rows] == [items[0].id, items[1].id]
    assert '"1": 0.25' in rows[0]["distribution"] and tuple(rows[0]) == COLUMNS


def test_paper_columns_come_first_in_paper_format(tmp_path, items):
    with ResultStore(tmp_path / "results.csv") as store:
        store.append(ok_row(items[0]))
    row = read_table(tmp_path / "results.csv").rows[0]
    assert COLUMNS[:7] == ("id", "question", "choices", "choice_keys", "answer", "type", "response")
    assert row["choice_keys"] == "['1', '2', '3', '4']" and row["answer"].startswith("1. ")


def failed_row(item, status="error"):
    return result_row(item, ProbeResult(item.id, status, None, raw_text="...", error="timeout"), "verbalized")


@pytest.mark.parametrize("older,newer,finished", [
    ("unparsed", "ok", True),   # a retried item that now has its answer
    ("ok", "error", False),     # the rule is "newest wins", not "ok wins": the item is asked again
    ("ok", "ok", True),         # two answers: the second one's distribution is the one kept
])
def test_reopening_a_file_with_two_rows_of_an_id_keeps_the_newest(tmp_path, items, older, newer, finished):
    """Rows are only appended, so an id asked twice has two rows until the file is compacted; the
    rows are read back by opening the file (not from the writing store's memory)."""
    path = tmp_path / "results.csv"
    rows = [ok_row(items[0], p1) if status == "ok" else failed_row(items[0], status)
            for status, p1 in [(older, 0.5), (newer, 0.25)]]
    with ResultStore(path) as store:
        store.append(rows[0])
        store.append(ok_row(items[1]))
        store.append(rows[1])
    assert [r["id"] for r in read_table(path).rows] == [items[0].id, items[1].id, items[0].id]
    with ResultStore(path) as store:
        assert store.rows[items[0].id]["status"] == newer
        assert store.rows[items[0].id]["distribution"] == rows[1]["distribution"]
        assert (items[0].id in store.finished_ids()) is finished
        store.compact([i.id for i in items])
    assert [(r["id"], r["status"], r["distribution"]) for r in read_table(path).rows] == [
        (items[0].id, newer, rows[1]["distribution"]), (items[1].id, "ok", ok_row(items[1])["distribution"])]


def test_repairing_a_torn_tail_keeps_the_ok_answer_that_followed_a_failed_row(tmp_path, items):
    """A crash right after an item's retry succeeded: the repair rewrites the file from the rows
    it read, and the item's newest row (its answer) must be the one that survives."""
    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        store.append(failed_row(items[0]))
        store.append(ok_row(items[0], 0.25))
        before = path.stat().st_size
        store.append(ok_row(items[1]))
    data = path.read_bytes()
    path.write_bytes(data[: before + (len(data) - before) // 2])  # killed in the middle of the last record
    with ResultStore(path) as store:
        assert store.finished_ids() == {items[0].id}
    assert [(r["id"], r["status"], r["distribution"]) for r in read_table(path).rows] == [
        (items[0].id, "ok", ok_row(items[0], 0.25)["distribution"])]


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_torn_tail_is_cut_and_earlier_rows_kept(tmp_path, items, keep):
    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        for it in items[:2]:
            store.append(ok_row(it))
        before = path.stat().st_size
        store.append(ok_row(items[2]))
    data = path.read_bytes()
    last = len(data) - before
    path.write_bytes(data[: before + max(1, int(keep * last))])  # killed in the middle of the last record
    with ResultStore(path) as store:
        assert set(store.rows) == {items[0].id, items[1].id}
    assert len(read_table(path).rows) == 2


def test_second_writer_is_refused(tmp_path, items):
    path = tmp_path / "results.csv"
    with ResultStore(path):
        with pytest.raises(UserError, match="another run is writing"):
            with ResultStore(path):
                pass


def test_hand_edited_files_give_clear_errors(tmp_path, items):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="columns"):
        ResultStore(path).__enter__()
    with ResultStore(tmp_path / "ok.csv") as store:
        store.append(ok_row(items[0]))
        store.append(ok_row(items[1]))
    lines = (tmp_path / "ok.csv").read_text().split("\n")
    (tmp_path / "ok.csv").write_text("\n".join([lines[0], "Q9,broken"] + lines[1:]))
    with pytest.raises(UserError, match="record 2"):
        ResultStore(tmp_path / "ok.csv").__enter__()


@pytest.mark.parametrize("name,folder", [
    ("Qwen/Qwen2.5-72B-Instruct", "Qwen/Qwen2.5-72B-Instruct"),
    ("gpt-4", "gpt-4"),
])
def test_model_folder_follows_paper_layout(name, folder):
    assert str(model_folder(name)) == folder


def test_local_model_path_uses_folder_name(tmp_path):
    (tmp_path / "my-llama").mkdir()
    assert str(model_folder(str(tmp_path / "my-llama"))) == "my-llama"


@pytest.mark.parametrize("bad", ["../evil", "a/../../b", "/etc/passwd-model", "", ".."])
def test_model_names_cannot_escape_results_root(tmp_path, bad):
    with pytest.raises(UserError):
        results_dir(tmp_path, "RQ1", model_folder(bad))


def test_no_file_folder_or_lock_until_a_row_is_written(tmp_path, items):
    """A run that fails before its first row (a model that does not load) leaves nothing behind."""
    path = tmp_path / "RQ1" / "org" / "m" / "results.csv"
    with pytest.raises(RuntimeError):
        with ResultStore(path):
            raise RuntimeError("model failed to load")
    assert list(tmp_path.iterdir()) == []
    with ResultStore(path) as store:
        store.append(ok_row(items[0]))
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.csv"]  # the lock file is gone too


def test_a_header_only_file_left_by_a_failed_start_is_removed(tmp_path, items):
    path = tmp_path / "results.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    with ResultStore(path) as store:
        assert store.rows == {}
    assert not path.exists()


@pytest.mark.parametrize("cut", [3, 40, len(",".join(COLUMNS))])
def test_a_header_cut_off_while_written_is_removed_and_the_run_starts_afresh(tmp_path, items, cut):
    """Killed before the header's newline: no row was ever reported, so nothing is refused or kept."""
    path = tmp_path / "results.csv"
    path.write_text(",".join(COLUMNS)[:cut])
    with ResultStore(path) as store:
        assert store.rows == {}
        store.append(ok_row(items[0]))
    assert tuple(read_table(path).header) == COLUMNS and [r["id"] for r in read_table(path).rows] == [items[0].id]


def test_compacting_nothing_writes_no_file(tmp_path, items):
    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        store.compact([i.id for i in items])
    assert not path.exists()


def test_the_lock_still_excludes_after_lock_files_are_removed(tmp_path, items):
    """Lock files are unlinked on exit; a run that opened the old one must not think it holds the lock."""
    path = tmp_path / "results.csv"
    with ResultStore(path) as first:
        first.append(ok_row(items[0]))
    with ResultStore(path):
        assert (tmp_path / "results.csv.lock").exists()
        with pytest.raises(UserError, match="another run is writing"):
            ResultStore(path).__enter__()
    assert not (tmp_path / "results.csv.lock").exists()


def test_an_older_file_without_identity_columns_is_refused_unchanged(tmp_path, items):
    from utils.core.results.schema import STORE_COLUMNS

    path = tmp_path / "results.csv"
    row = ok_row(items[0])
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, STORE_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    before = path.read_bytes()
    with pytest.raises(UserError, match="earlier version of this toolkit.*--results-root"):
        ResultStore(path).__enter__()
    assert path.read_bytes() == before and not (tmp_path / "results.csv.lock").exists()


def test_a_file_re_saved_by_pandas_is_named_and_its_recovery_works(tmp_path, items):
    """`pd.read_csv(p).to_csv(p)` adds an index column and retypes values; the one line says what
    happened and gives the command that writes the rows back as the toolkit reads them."""
    import shlex
    import subprocess
    import sys

    import pandas as pd

    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        for it in items[:3]:
            store.append(ok_row(it, 0.3))
    before = {r["id"]: r["distribution"] for r in read_table(path).rows}
    pd.read_csv(path).to_csv(path)
    with pytest.raises(UserError) as err:
        ResultStore(path).__enter__()
    message = str(err.value)
    assert "\n" not in message and "re-saved by another program" in message
    assert "which added an index column (without a name)" in message
    command = message.split("every value as text: ", 1)[1]
    assert command.startswith("python -c ")
    subprocess.run([sys.executable, *shlex.split(command)[1:]], check=True)
    with ResultStore(path) as store:
        assert store.finished_ids() == set(before)
        assert {i: r["distribution"] for i, r in store.rows.items()} == before


def test_a_file_with_its_columns_moved_says_so(tmp_path, items):
    import pandas as pd

    path = tmp_path / "results.csv"
    with ResultStore(path) as store:
        store.append(ok_row(items[0]))
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df[list(reversed(df.columns))].to_csv(path, index=False)
    with pytest.raises(UserError, match="re-saved by another program .*, with its columns in another order; to recover"):
        ResultStore(path).__enter__()
