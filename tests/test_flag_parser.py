"""Flags in both spellings, names in any case, near misses answered with a suggestion."""
from __future__ import annotations

import argparse

import pytest

from utils.core.flag_parser import FlagParser, choice_of, match_name, spellings, suggest


@pytest.mark.parametrize("flag,expected", [
    ("--base_url", ["--base_url", "--base-url"]),
    ("--results-root", ["--results-root", "--results_root"]),
    ("--limit", ["--limit"]),
    ("-h", ["-h"]),
])
def test_spellings(flag, expected):
    assert spellings(flag) == expected


def test_one_destination_and_the_declared_spelling_first(capsys):
    p = FlagParser(prog="x")
    p.add_argument("--model_name_or_path")
    p.add_argument("--dry-run", action="store_true")
    assert vars(p.parse_args(["--model-name-or-path", "m", "--dry_run"])) == {"model_name_or_path": "m",
                                                                             "dry_run": True}
    assert "--model_name_or_path, --model-name-or-path MODEL_NAME_OR_PATH" in p.format_help()
    with pytest.raises(SystemExit) as exc:
        p.parse_args(["--model-name-or-pth", "m"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and "did you mean --model-name-or-path?" in err


def test_abbreviations_are_refused(capsys):
    p = FlagParser(prog="x")
    p.add_argument("--api-key-env")
    with pytest.raises(SystemExit):
        p.parse_args(["--api-key", "sk-x"])
    assert "unrecognized arguments: --api-key" in capsys.readouterr().err


def test_names_in_any_case_and_suggestions_only_for_near_misses():
    assert match_name("  JAPAN ", ["Japan", "Korea"], "country") == "Japan"
    assert suggest("fewshot", ["persona", "few-shot", "language"]) == " (did you mean few-shot?)"
    assert suggest("Narnia", ["Argentina", "Brazil", "Japan"]) == ""  # nothing close: no wild guess
    with pytest.raises(ValueError, match=r"unknown method 'logprb' \(did you mean logprob\?\)"):
        choice_of(["verbalized", "logprob"], "method")("logprb")
