"""The golden check: the commands, on fixed inputs, still write what tests/golden/manifest.json recorded.

Each group of tests/golden/produce.py is produced into tmp_path through the public commands only
(subprocesses, never `utils/`), and the sha256 of its normalized files is compared with the
manifest: a change that moves any number, prompt or table fails here and names the files;
`python tests/golden/produce.py --only GROUP --diff <commit>` shows how they moved. An intended
change is listed in tests/golden/CHANGES.md and re-recorded with `--record`.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REFERENCE, ROOT

from golden import files, produce

SHOWN = 25  # file names listed per kind in a failure message


def recorded_at() -> str:
    """The commit that last recorded the manifest: the one to diff against."""
    try:
        proc = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "tests/golden/manifest.json"],
                              capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "HEAD"
    return proc.stdout.strip() or "HEAD"


def describe(group: str, missing: list[str], extra: list[str], changed: list[str], kept: str) -> str:
    lines = [f"golden group {group!r} differs from tests/golden/manifest.json: "
             f"{len(changed)} changed, {len(missing)} missing, {len(extra)} extra file(s)"]
    for kind, names in (("changed", changed), ("missing", missing), ("extra", extra)):
        lines += [f"  {kind}: {n}" for n in names[:SHOWN]]
        if len(names) > SHOWN:
            lines.append(f"  ... and {len(names) - SHOWN} more {kind}")
    lines += [f"outputs kept in {kept}",
              f"see what moved: python tests/golden/produce.py --only {group} --diff {recorded_at()}",
              "if the change is intended: name it in tests/golden/CHANGES.md, then "
              f"python tests/golden/produce.py --out <dir> --only {group} --record"]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("group", produce.GROUPS)
def test_golden(group: str, tmp_path):
    if group in produce.NEEDS_SHARED and not REFERENCE.is_dir():
        pytest.skip(f"golden group {group!r} needs the paper's release at ../shared/reference/paper-release")
    expected = {k: v for k, v in produce.load_manifest().items() if produce.in_group(k, group)}
    assert expected, f"tests/golden/manifest.json has no entries for {group!r}: record them with --record"
    produce.produce(tmp_path, [group], REFERENCE.parents[1] if REFERENCE.is_dir() else None)
    missing, extra, changed = produce.compare(expected, produce.hashes(tmp_path, [group]))
    assert not (missing or extra or changed), describe(group, missing, extra, changed, str(tmp_path / group))
    shutil.rmtree(tmp_path / group)  # hundreds of MB of prompt files; pytest keeps its last three runs' folders


def test_normalization_counts_real_changes_only(tmp_path):
    """Wall-clock columns, last-bit float noise and the output folder do not count; a changed number does."""
    subs = [(str(tmp_path), "<OUT>")]

    def normalized(score: str, share: str, latency: str, out: str) -> str:
        src, dst = tmp_path / "results.csv", tmp_path / "normalized.csv"
        src.write_text("id,score,distribution,latency_s,finished_at,file,count\n"
                       f'Q1,{score},"{{""1"": {share}}}",{latency},2026-12-07T07:38:37+00:00,{out}/r.csv,7\n')
        files.normalize_csv(src, dst, subs)
        return dst.read_text()

    base = normalized("0.1234567890123", "0.25000000000000006", "2.232", str(tmp_path))
    assert base == 'id,score,distribution,file,count\nQ1,0.123456789,"{""1"": 0.25}",<OUT>/r.csv,7\n'
    assert normalized("0.1234567890124", "0.25000000000000011", "9.9", str(tmp_path)) == base  # noise
    assert normalized("0.1234567891123", "0.25000000000000006", "2.232", str(tmp_path)) != base  # 1e-10
    assert normalized("0.1234567890123", "0.2500000001", "2.232", str(tmp_path)) != base
