"""The study runner's second, paper-compat pass of each analysis drops the corrected analysis's
own choices, which `--paper-compat` refuses with one line."""
from __future__ import annotations

import doctest

from utils.analysis import flags
from utils.study import analyses


def test_docstring_examples():
    assert doctest.testmod(analyses).failed == 0


def test_paper_compat_argv_is_accepted_by_the_shared_parser(tmp_path):
    argv = ["--out", str(tmp_path), "--metric", "tvd", "--weights", "survey", "--drop-nonsubstantive",
            "--min-coverage", "0.5"]
    args = flags.parse_args(flags.parser("x", human_default=None), analyses.paper_compat_argv(argv))
    assert args.paper_compat and args.metric == "w1" and args.weights == "none"
    assert not args.drop_nonsubstantive and args.min_coverage == 0.5
