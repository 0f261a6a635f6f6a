"""`ProbeConfig` from a plain mapping: the defaults in one place, values read as their flags read
them, one-line errors, and the same record as the scripts' parsers make."""
from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from utils.core.errors import UserError
from utils.core.paths import RESULTS_DIR
from utils.probing import probe_config
from utils.probing.cli import api_config, local_config, parser
from utils.probing.probe_config import ProbeConfig


def test_doctests():
    assert doctest.testmod(probe_config).failed == 0


def test_defaults_differ_by_backend_and_experiment():
    api = ProbeConfig.from_mapping({"model_name_or_path": "m"}, "RQ2", "api")
    local = ProbeConfig.from_mapping({}, "RQ1", "local")
    assert (api.method, api.max_new_tokens, api.country, api.steering_method) == ("verbalized", 512, "all", "all")
    assert (local.method, local.max_new_tokens, local.country, local.variant) == ("logprob", 256, None, None)
    assert local.results_root == RESULTS_DIR and local.backend.batch_size == 8 and local.model_name_or_path is None


@pytest.mark.parametrize("backend, argv", [
    ("api", ["--model_name_or_path", "m", "--method", "Sample", "--samples", "12", "--perturb", "order:2",
             "--perturb", "labels", "--results-root", "r", "--quiet", "--timeout", "30"]),
    ("local", ["--ids", "Q1,Q2", "--max_new_tokens", "64", "--batch-size", "2", "--no-prefix-cache",
               "--sample-temperature", "0.5", "--dtype", "BFloat16"]),
])
def test_a_mapping_gives_the_record_the_parser_gives(backend, argv):
    """The study file's way (typed values, lists) and the script's way (argv) give one record."""
    from_argv = (api_config if backend == "api" else local_config)(argv, "RQ1")
    given = {k: v for k, v in vars(parser("RQ1", backend).parse_args(argv)).items()}
    typed = {k: (list(v) if isinstance(v, list) else v) for k, v in given.items()}
    assert ProbeConfig.from_mapping(typed, "RQ1", backend) == from_argv
    as_text = {k: v if isinstance(v, (bool, list)) else str(v) for k, v in given.items()}
    assert ProbeConfig.from_mapping(as_text, "RQ1", backend) == from_argv


def test_lists_and_types_are_read_as_the_flags_read_them():
    c = ProbeConfig.from_mapping({"ids": ["Q1", "Q2"], "perturb": "order:2", "limit": "3", "human": "h.csv",
                                  "group": ["age=18-29"], "method": "LOGPROB"}, "RQ2", "local")
    assert (c.ids, c.perturb, c.limit, c.human, c.group, c.method) == \
        ("Q1,Q2", ("order:2",), 3, Path("h.csv"), ("age=18-29",), "logprob")


@pytest.mark.parametrize("values, experiment, needle", [
    ({"samplez": 3}, "RQ1", "unknown setting 'samplez' (did you mean samples?) for code/RQ1/prob_by_llm.py"),
    ({"country": "Japan"}, "RQ1", "unknown setting 'country' for code/RQ1/prob_by_llm.py"),
    ({"variant": "order"}, "RQ2", "unknown setting 'variant' for code/RQ2/prob_by_llm.py"),
    ({"samples": 0}, "RQ1", "--samples 0: must be at least 1, not 0"),
    ({"method": "vibes"}, "RQ1", "--method 'vibes': unknown method 'vibes'"),
    ({"protocol": "release"}, "RQ1", "--protocol release needs --release-dir PATH"),
    ({"protocol": "release", "release_dir": "x", "temperature": 0.5}, "RQ1", "leave out --temperature"),
    ({"release_dir": "x"}, "RQ1", "--release-dir is read only with --protocol release"),
    ({"limit": 2}, "api", "code/RQ1/prob_by_api.py needs --model_name_or_path"),
])
def test_a_bad_setting_is_one_line(values, experiment, needle):
    experiment, backend = ("RQ1", "api") if experiment == "api" else (experiment, "local")
    with pytest.raises(UserError) as exc:
        ProbeConfig.from_mapping(values, experiment, backend)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


def test_the_release_protocol_asks_verbalized_whatever_the_default():
    c = ProbeConfig.from_mapping({"protocol": "release", "release_dir": "x", "method": "verbalized"}, "RQ1", "local")
    assert c.method == "verbalized" and ProbeConfig.from_mapping(
        {"protocol": "release", "release_dir": "x"}, "RQ1", "local").method == "verbalized"


def test_arguments_are_the_scripts_own_flags():
    args = api_config(["--model_name_or_path", "m", "--results-root", "r"], "RQ1").arguments()
    assert args["results_root"] == "r" and args["base_url"] is None and args["variant"] is None
    assert "country" not in args and "batch_size" not in args
