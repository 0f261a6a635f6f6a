"""`--protocol release`: our message lists, decoding and acceptance against the release's own code.

The release's `utils/common.py` is imported here as it is (torch, transformers and openai
included) from the checkout at ../shared/reference/paper-release, and its functions are run with
the checkout as working directory; every expected prompt comes from them at run time, so nothing
of the release's text is written in this file. Tests skip when the checkout is absent.
"""
from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import os
import random
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from utils.core.errors import UserError
from utils.core.records import Message
from utils.probing.release.accept import accepted_shares
from utils.probing.release.loader import files_sha256, open_release
from utils.probing.release.protocol import VARIANTS, load_release_protocol

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "paper-release"
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(), reason="../shared/reference/paper-release is not present")


@contextlib.contextmanager
def inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def release():
    """The release's utils/common.py, imported whole, as its scripts import it."""
    return _import(REFERENCE / "utils" / "common.py", "paper_release_common_under_test")


@pytest.fixture(scope="module")
def wvs():
    return _import(REFERENCE / "utils" / "wvs.py", "paper_release_wvs_under_test")


@pytest.fixture(scope="module")
def api():
    return load_release_protocol(REFERENCE, "api")


def release_rows(wvs, name: str) -> list[dict]:
    with inside(REFERENCE):
        return wvs.WVS("WV7", name).data_list


def sent_by_release(release, server, instruction: str) -> list[dict]:
    """The messages the release's own API function sends (to our local server) for `instruction`."""
    os.environ["OPENAI_BASE_URL"] = server.base_url
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints every response
            release.get_api_expressed_distribution(SimpleNamespace(model_name_or_path="gpt-4", temperature=0),
                                                   instruction)
    finally:
        del os.environ["OPENAI_BASE_URL"]
    return server.requests[-1]["messages"]


def as_dicts(messages: tuple[Message, ...]) -> list[dict]:
    return [{"role": m.role, "content": m.content} for m in messages]


def test_rq1_sends_the_releases_messages_for_every_item(release, wvs, api, server):
    cond = api.rq1()
    rows = release_rows(wvs, "English")
    assert [r.item.id for r in cond.requests] == [row["id"] for row in rows] and len(rows) == 144
    for request, row in zip(cond.requests, rows):
        with inside(REFERENCE):
            instruction = release.get_prompt_of_rq1(row)
        assert as_dicts(request.messages) == sent_by_release(release, server, instruction), row["id"]
    assert {r.item.language for r in cond.requests} == {"English"}


def test_every_rq2_method_and_country_sends_the_releases_messages(release, wvs, api, server, monkeypatch):
    methods, countries = api.steering_methods(), api.countries()
    assert len(methods) == 5 and len(countries) == 10
    # the release's Japan language_persona prompt reads a global `args` it never defines
    with inside(REFERENCE), pytest.raises(NameError):
        release.get_prompt_of_rq2(SimpleNamespace(steering_method="language_persona", country="Japan"),
                                  release_rows(wvs, "Japanese")[0])
    system = None
    for method in methods:
        for country in countries:
            language = release.country_language_dict[country] if "language" in method else "English"
            rows = release_rows(wvs, language)
            args = SimpleNamespace(steering_method=method, country=country, culture=country)
            monkeypatch.setattr(release, "args", args, raising=False)
            cond = api.rq2(method, country)
            assert (cond.spec.country, cond.spec.steering, cond.spec.language) == (country, method, language)
            assert [r.item.id for r in cond.requests] == [row["id"] for row in rows]
            for i, (request, row) in enumerate(zip(cond.requests, rows)):
                with inside(REFERENCE):
                    instruction = release.get_prompt_of_rq2(args, row)
                assert instruction
                if i == 0:  # the whole list as the release sends it, once per condition
                    sent = sent_by_release(release, server, instruction)
                    system = sent[:-1]
                    assert as_dicts(request.messages) == sent, (method, country)
                assert as_dicts(request.messages) == system + [{"role": "user", "content": instruction}], \
                    (method, country, row["id"])


def test_items_the_translations_lack_are_not_asked(api):
    english = [it.id for _, it in api.questionnaire("English")]
    missing = api.missing_items("Chinese")
    assert missing == ["Q83", "Q84", "Q85", "Q86", "Q87", "Q88", "Q89", "Q90", "Q125", "Q148", "Q234", "Q240"]
    asked = [r.item.id for r in api.rq2("language", "China").requests]
    assert len(asked) == 132 and asked == [i for i in english if i not in missing]
    assert len(api.rq2("language", "Japan").requests) == 141 and api.missing_items("Vietnamese") == ["Q240"]
    assert len(api.rq2("persona", "China").requests) == 144  # English methods ask all


def test_sensitivity_variants_are_the_release_rq1_prompt_with_its_variant_inputs(release, wvs, api, server,
                                                                                tmp_path):
    shuffled = release_rows(wvs, "shuffle")
    order = api.sensitivity("order")
    english = {r.item.id: r.item for r in api.rq1().requests}
    for request, row in zip(order.requests, shuffled, strict=True):
        with inside(REFERENCE):
            assert as_dicts(request.messages)[-1]["content"] == release.get_prompt_of_rq1(row)
        assert list(request.item.choice_keys) == row["choice_keys"]
        assert request.item.order == english[row["id"]].choice_keys  # scored in the semantic order
    assert any(r.item.choice_keys != r.item.order for r in order.requests)
    rows = release_rows(wvs, "English")
    for variant in ("number", "prob"):
        # the release's own function, run on a copy whose format-example files hold the variant's
        copy = tmp_path / variant
        for part in ("utils", "inputs", "dataset"):
            shutil.copytree(REFERENCE / part, copy / part)
        for f in (copy / "inputs" / "few_shot").glob("*.txt"):
            f.write_bytes((REFERENCE / VARIANTS[variant][1]).read_bytes())
        cond = api.sensitivity(variant)
        assert cond.spec.condition_folder() == ("Discussion", "sensitivity", variant)
        for i, (request, row) in enumerate(zip(cond.requests, rows, strict=True)):
            with inside(copy):
                instruction = release.get_prompt_of_rq1(row)
            if i == 0:
                assert as_dicts(request.messages) == sent_by_release(release, server, instruction)
            assert as_dicts(request.messages)[-1]["content"] == instruction
        assert cond.requests[0].messages != api.rq1().requests[0].messages


def test_decoding_is_read_from_the_release(api, tmp_path):
    assert api.decoding("RQ1") == api.decoding("RQ2")
    assert api.decoding().temperature == 0.0 and api.decoding().max_tokens is None  # the scripts' default
    local = load_release_protocol(REFERENCE, "local").decoding()
    assert local.greedy and local.temperature is None and local.max_tokens == 256
    copy = tmp_path / "release"
    shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("results", "*.pdf"))
    script = copy / "code" / "RQ1" / "prob_by_api.py"
    tree = ast.parse(script.read_text())
    for node in ast.walk(tree):  # the RQ1 script's --temperature default -> 0.7
        if isinstance(node, ast.keyword) and node.arg == "default" and isinstance(node.value, ast.Constant) \
                and node.value.value == 0:
            node.value = ast.Constant(0.7)
    script.write_text(ast.unparse(tree))
    changed = load_release_protocol(copy, "api")
    assert changed.decoding("RQ1").temperature == 0.7 and changed.decoding("RQ2").temperature == 0.0


# -- the acceptance rule ------------------------------------------------------------------------------

def random_reply(rng: random.Random, marker: str) -> str:
    """A reply a model might give: a mapping in many dialects, sums near the tolerance edges, odd
    whitespace and quoting, words around it, or a literal that is no mapping at all."""
    if rng.random() < 0.08:
        return rng.choice(["", "0", "0.5", "[1, 2]", "None", "{}", "''", "{1: 0.5}", "{'a': '50%', 'b': '50%'}",
                           "I cannot answer.", '{"1": "50%", "2": "50%"}', "{'1': '50%', '2': 50}", "{{}}",
                           '{"1": "70%"}\n', "{'1': 'nan%'}", "{'1': '1_00%'}", "{'1': ' 100 %'}"])
    n = rng.randint(1, 6)
    total = rng.choice([100, 100, 100, 99.99, 50, 50.01, 49.99, 150, 149.99, 150.01, 0, 300, 120, 70])
    weights = [rng.random() for _ in range(n)]
    values = [total * w / sum(weights) for w in weights]
    keys = [str(i + 1) for i in range(n)]
    if rng.random() < 0.1:
        keys[rng.randrange(n)] = rng.choice(["01", "0", "00", "３", "1", "10"])

    clean = rng.random() < 0.5  # half the mappings well formed, so the sum rule is well exercised

    def key(k):
        return f"'{k}'" if clean else rng.choice([f"'{k}'"] * 6 + [k, k, f'"{k}"', f"'{k}", f"{k}'"])

    def value(v):
        number = rng.choice([f"{v:.2f}", f"{v:.0f}", f"{v:.1f}", f"{v:.2f}".rstrip("0"), "5.", ".5", "1.2.3"]
                            if rng.random() < 0.1 else [f"{v:.2f}", f"{v:.0f}", f"{v:.1f}"])
        if clean:
            return f"'{number}%'"
        return rng.choice([f"'{number}%'"] * 6 + [f"'{number}'", f"{number}%", f'"{number}%"', number])

    seps = [", "] if clean else [", "] * 8 + [",", " ", "", ",\n", " ,", ",\t", ",\u00a0", ",\x0b", ",,", "\n"]
    colon = rng.choice([": "] if clean else [": "] * 6 + [":", " : ", ":\n", ":\u3000"])
    body = "".join(f"{key(k)}{colon}{value(v)}" + (rng.choice(seps) if i < n - 1 else rng.choice(["", "", ",", " "]))
                   for i, (k, v) in enumerate(zip(keys, values)))
    mapping = rng.choice(["{", "{", "{", "{ ", "{\n", ""]) + body + rng.choice(["}", "}", "}", " }", "%}", ""])
    before = rng.choice(["", "", "", marker, f"Sure. {marker}", f"{marker}x {marker}", "```\n", "{ ", marker[:-1]])
    after = rng.choice(["", "", "", " That is all.", "\n", "}", f" {marker}{{'1': '100%'}}", "\n```"])
    return before + mapping + after


def replies(n: int, seed: int) -> list[str]:
    """`n` random replies; the release's reply marker (read from it) appears in some."""
    marker = load_release_protocol(REFERENCE, "api").accept.marker
    rng = random.Random(seed)
    return [random_reply(rng, marker) for _ in range(n)]


def release_stores(match, text):
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return match(text)
    except Exception:  # noqa: BLE001 - the release's loop would crash: it has not accepted
        return None


def test_api_replies_reach_the_matcher_as_the_releases_function_hands_them(release, api, server):
    """Through the release's own get_api_expressed_distribution, so the reply marker is its own."""
    accepted = 0
    marker = api.accept.marker
    for reply in replies(60, seed=2) + [f"x{marker}{{'1': '100%'}}", f"{marker}{{'1': '60%'}}{marker}"]:
        server.script.append(("content", reply))
        os.environ["OPENAI_BASE_URL"] = server.base_url
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                text = release.get_api_expressed_distribution(SimpleNamespace(model_name_or_path="gpt-4",
                                                                              temperature=0), "q")
        finally:
            del os.environ["OPENAI_BASE_URL"]
        ours = api.accept(reply)
        assert ours.text == release_stores(release.match_api_str, text), repr(reply)
        assert ours.ok or ours.reason
        accepted += ours.ok
    assert 5 < accepted < 55  # both outcomes covered


def test_local_replies_are_read_by_the_releases_matcher_without_its_print(release, capsys):
    local = load_release_protocol(REFERENCE, "local")
    for reply in replies(300, seed=3):
        assert local.accept(reply).text == release_stores(release.match_llm_str, reply.strip()), repr(reply)
    assert local.accept("  {'1': '100%', '2': '100%'}\n").text == "{'1': '50.00%', '2': '50.00%'}"  # rescaled
    assert not local.accept("no answer").ok
    assert capsys.readouterr().out == ""  # the release's matcher prints "Not matched: ..." into its own module


def test_accepted_answers_keep_their_unnormalized_shares(api):
    assert api.accept("{'1': '60%', '2': '60%'}").text == "{'1': '60%', '2': '60%'}"
    refused = api.accept("{'1': '100%', '2': '50%'}")  # 150%: at the edge, refused
    assert refused.text is None and "within its tolerance" in refused.reason
    assert api.accept("[1, 2]").reason == "the release's matcher raises AttributeError on it"
    assert api.accept(None).reason == "the reply has no text"
    assert accepted_shares("{'1': '60%', 2: '60%'}") == {"1": 60.0, "2": 60.0}


# -- opening a checkout --------------------------------------------------------------------------------

def test_a_wrong_release_dir_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no such folder"):
        open_release(tmp_path / "nowhere")
    with pytest.raises(UserError, match="is not the paper's release: it has no utils/common.py"):
        open_release(tmp_path)
    copy = tmp_path / "release"
    shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("results", "*.pdf"))
    (copy / "dataset" / "questions" / "WV7_Chinese.jsonl").unlink()
    (copy / "inputs" / "few_shot" / "lang-En_dist-Korea.txt").unlink()
    protocol = load_release_protocol(copy, "api")
    with pytest.raises(UserError, match="lacks dataset/questions/WV7_Chinese.jsonl") as exc:
        protocol.rq2("language", "China")
    assert "\n" not in str(exc.value)
    with pytest.raises(UserError, match="lacks inputs/few_shot/lang-En_dist-Korea.txt"):
        protocol.rq2("few-shot", "Korea")
    with pytest.raises(UserError, match="unknown country 'Atlantis'"):
        protocol.rq2("persona", "Atlantis")
    common = copy / "utils" / "common.py"
    tree = ast.parse(common.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "get_prompt_of_rq2":
            node.name = "renamed"
    common.write_text(ast.unparse(tree), encoding="utf-8")
    with pytest.raises(UserError, match="defines no get_prompt_of_rq2"):
        open_release(copy)


def test_the_checkouts_own_matcher_is_the_rule(tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("results", "*.pdf"))
    common = copy / "utils" / "common.py"
    with common.open("a", encoding="utf-8") as fh:
        fh.write("\n\ndef match_api_str(text):\n    return text\n")
    changed = load_release_protocol(copy, "api")
    assert changed.accept(f"{changed.accept.marker}anything").text == "anything"
    assert load_release_protocol(copy, "local").accept("anything").text is None  # its local rule is unchanged
    common.write_text(common.read_text(encoding="utf-8").replace("def match_llm_str", "def renamed"),
                      encoding="utf-8")
    with pytest.raises(UserError, match="defines no match_llm_str"):
        load_release_protocol(copy, "local")


def test_the_commit_is_read_from_git_or_hashed(tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("results", "*.pdf"))
    hashed = open_release(copy).commit
    assert hashed == "sha256:" + files_sha256(copy) == open_release(REFERENCE).commit
    (copy / "inputs" / "sensitivity" / "prob.txt").write_text("changed", encoding="utf-8")
    assert open_release(copy).commit != hashed
    sha = "0123456789abcdef0123456789abcdef01234567"
    git = copy / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{sha} refs/heads/main\n")
    assert open_release(copy).commit == sha
    (git / "refs" / "heads" / "main").write_text(sha[::-1] + "\n")
    assert open_release(copy).commit == sha[::-1]
    (git / "HEAD").write_text(sha + "\n")  # detached
    assert open_release(copy).commit == sha


def test_an_answer_read_the_release_way(api):
    item = api.rq1().requests[0].item  # four options
    ok = api.result(item, f"{api.accept.marker}{{'1': '30%', '2': '30%', '3': '30%', '4': '30%'}}")
    assert ok.status == "ok" and ok.final and ok.response == "{'1': '30%', '2': '30%', '3': '30%', '4': '30%'}"
    assert ok.distribution == {k: 0.25 for k in item.choice_keys}  # 120% accepted, stored as written
    refused = api.result(item, "{'1': '100%', '2': '100%'}")
    assert refused.status == "unparsed" and "within its tolerance" in refused.error and not refused.final
    odd = api.result(item, '{"a": "50%", "b": "50%"}')  # accepted, yet no share on any option
    assert odd.status == "unparsed" and odd.final and odd.response == '{"a": "50%", "b": "50%"}'


def test_the_api_backend_reasks_the_same_request_until_the_release_accepts(api, server, tmp_path):
    import openai

    from utils.probing.backends.api.backend import ApiBackend
    from utils.probing.cli import api_config
    from utils.probing.grid import plan_for
    from utils.probing.loop import ask

    plan = plan_for(api_config(["--model_name_or_path", "m", "--protocol", "release", "--release-dir", str(REFERENCE),
                                "--limit", "1"]))
    request = plan.conditions[0].requests[0]
    backend = ApiBackend(openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0), "m")
    server.script.extend([("content", "I think most say 1."), ("content", "{'1': '100%', '2': '100%'}"),
                          ("content", f"{api.accept.marker}{{'1': '40%', '2': '40%', '3': '10%', '4': '10%'}} ok")])
    [(_, result)] = ask(backend, plan.method, [request], max_attempts=5)
    assert result.status == "ok" and result.attempts == 3 and result.response == \
        "{'1': '40%', '2': '40%', '3': '10%', '4': '10%'}"
    sent = server.requests[-3:]
    assert all(body == sent[0] for body in sent)  # the same prompt at the same temperature
    assert sent[0]["temperature"] == 0 and "max_tokens" not in sent[0]
    assert sent[0]["messages"] == as_dicts(request.messages)
    server.script.extend([("content", "no")] * 2)
    [(_, never)] = ask(backend, plan.method, [request], max_attempts=2)  # bounded, unlike the release
    assert never.status == "unparsed" and never.attempts == 2 and "not accepted by the release's rule" in never.error
    odd = ('{"a": "50%", "b": "50%"}', "{'1': '100%'}")  # accepted, though on no option: not asked again
    server.script.extend([("content", text) for text in odd])
    [(_, final)] = ask(backend, plan.method, [request], max_attempts=5)
    assert final.status == "unparsed" and final.final and final.attempts == 1


def test_the_plan_is_rendered_once_and_its_hash_names_every_prompt(tmp_path, monkeypatch):
    """The release's prompts are rendered at set-up into the plan, without changing the working
    directory; one prompt file changed, and the plan's hash is another."""
    from utils.probing.cli import api_config
    from utils.probing.grid import plan_for

    def config(release):
        return api_config(["--model_name_or_path", "m", "--protocol", "release", "--release-dir", str(release),
                           "--limit", "3"], "RQ2")

    def checkout(name: str) -> Path:  # a copy at a fixed commit, so only its files tell the plans apart
        copy = tmp_path / name
        shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("results", "*.pdf"))
        (copy / ".git").mkdir()
        (copy / ".git" / "HEAD").write_text("0123456789abcdef0123456789abcdef01234567\n")
        return copy

    same, changed = checkout("same"), checkout("changed")
    few_shot = changed / "inputs" / "few_shot" / "lang-En_dist-Korea.txt"
    few_shot.write_text(few_shot.read_text(encoding="utf-8").replace("%", " %", 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # relative paths of the release's code are read from the checkout, not from here
    monkeypatch.setattr(os, "chdir", lambda path: pytest.fail(f"the working directory was changed to {path}"))
    plan, other = plan_for(config(same)), plan_for(config(changed))
    assert plan.release_commit == other.release_commit and plan.sha256 == plan_for(config(same)).sha256
    assert len(plan.conditions) == 50 and {len(c.requests) for c in plan.conditions} == {3}
    differ = [c.spec.condition_folder() for c, d in zip(plan.conditions, other.conditions)
              if [r.messages for r in c.requests] != [r.messages for r in d.requests]]
    assert differ == [("RQ2", "few-shot", "Korea")] and other.sha256 != plan.sha256


def test_repeats_under_the_release_follow_its_decoding(tmp_path, capsys):
    """`--repeats` needs no `--temperature` (which the protocol refuses): greedy decoding is
    refused with a line that asks for none; a release whose decoding samples repeats."""
    from utils.probing.cli import api_main

    args = ["--model_name_or_path", "m", "--protocol", "release", "--repeats", "3", "--limit", "2",
            "--dry-run", str(tmp_path / "p.jsonl")]
    assert api_main([*args, "--release-dir", str(REFERENCE)]) == 2
    err = capsys.readouterr().err
    assert "the release decodes greedily" in err and "--temperature" not in err and err.count("\n") == 1
    copy = tmp_path / "release"
    shutil.copytree(REFERENCE, copy, ignore=shutil.ignore_patterns("results", "*.pdf"))
    script = copy / "code" / "RQ1" / "prob_by_api.py"
    tree = ast.parse(script.read_text())
    for node in ast.walk(tree):  # the RQ1 script's --temperature default -> 0.7
        if isinstance(node, ast.keyword) and node.arg == "default" and isinstance(node.value, ast.Constant) \
                and node.value.value == 0:
            node.value = ast.Constant(0.7)
    script.write_text(ast.unparse(tree))
    assert api_main([*args, "--release-dir", str(copy)]) == 0
    import json

    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [x.get("repeat", "") for x in lines] == ["", "", "2", "2", "3", "3"]


# -- the scripts under --protocol release ----------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def run_script(script: str, *args: str) -> "subprocess.CompletedProcess":
    import subprocess
    import sys

    return subprocess.run([sys.executable, str(ROOT / script), *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "OPENAI_API_KEY": "sk-test"}, timeout=600)


def test_rq1_api_script_sends_the_releases_messages(release, wvs, server, tmp_path):
    """The done criterion: `prob_by_api.py --protocol release --release-dir ../shared/reference/paper-release`
    against a local server sends, item by item, the messages the release's own functions build."""
    from utils.core.results.table import read_table

    proc = run_script("code/RQ1/prob_by_api.py", "--protocol", "release", "--release-dir",
                      "../shared/reference/paper-release", "--base_url", server.base_url, "--model_name_or_path",
                      "m", "--results-root", str(tmp_path), "--quiet", "--concurrency", "4")
    assert proc.returncode == 0, proc.stderr
    rows = release_rows(wvs, "English")
    with inside(REFERENCE):
        user = {row["id"]: release.get_prompt_of_rq1(row) for row in rows}
    system = sent_by_release(release, server, user["Q1"])[:-1]
    sent = {next(i for i, text in user.items() if text == body["messages"][-1]["content"]): body
            for body in server.requests[:-1]}
    assert len(server.requests) - 1 == len(sent) == 144  # every item, once: each accepted at once
    for item_id, body in sent.items():
        assert body["messages"] == system + [{"role": "user", "content": user[item_id]}], item_id
        assert body["temperature"] == 0 and "max_tokens" not in body and "logprobs" not in body
    results = read_table(tmp_path / "RQ1" / "m" / "results.csv").rows
    assert len(results) == 144 and "Q151" not in {r["id"] for r in results}  # the release's items
    assert {(r["protocol"], r["release_commit"], r["method"], r["status"]) for r in results} == \
        {("release", open_release(REFERENCE).commit, "verbalized", "ok")}
    # our protocol's run into the same file is refused: rows asked differently never mix
    again = run_script("code/RQ1/prob_by_api.py", "--base_url", server.base_url, "--model_name_or_path", "m",
                       "--results-root", str(tmp_path), "--quiet", "--limit", "1")
    assert again.returncode == 2 and "protocol: release in the file, ours now" in again.stderr


def test_rq2_api_script_under_the_release_protocol(release, wvs, server, tmp_path, monkeypatch):
    from utils.core.results.table import read_table

    """The cell whose release prompt needs the module global `args` (see ReleaseProtocol.rq2)."""
    proc = run_script("code/RQ2/prob_by_api.py", "--protocol", "release", "--release-dir", str(REFERENCE),
                      "--base_url", server.base_url, "--model_name_or_path", "m", "--results-root", str(tmp_path),
                      "--quiet", "--steering_method", "language_persona", "--country", "Japan", "--limit", "2")
    assert proc.returncode == 0, proc.stderr
    args = SimpleNamespace(steering_method="language_persona", country="Japan", culture="Japan")
    monkeypatch.setattr(release, "args", args, raising=False)
    rows = release_rows(wvs, "Japanese")[:2]
    with inside(REFERENCE):
        expected = [release.get_prompt_of_rq2(args, row) for row in rows]
    assert sorted(b["messages"][-1]["content"] for b in server.requests) == sorted(expected)
    results = read_table(tmp_path / "RQ2" / "language_persona" / "Japan" / "m" / "results.csv").rows
    assert {(r["language"], r["protocol"]) for r in results} == {("Japanese", "release")}


def test_flags_of_the_release_protocol_are_checked(tmp_path, capsys):
    from utils.probing.cli import api_main, local_main

    cases = [(["--protocol", "release"], "needs --release-dir"),
             (["--release-dir", str(REFERENCE)], "--release-dir is read only with --protocol release"),
             (["--protocol", "release", "--release-dir", str(tmp_path / "nowhere")], "no such folder"),
             (["--protocol", "release", "--release-dir", str(tmp_path)], "it has no utils/common.py"),
             (["--protocol", "release", "--release-dir", str(REFERENCE), "--max_new_tokens", "9"],
              "leave out --max-new-tokens")]
    for argv, needle in cases:
        assert api_main(["--model_name_or_path", "m", "--results-root", str(tmp_path), "--dry-run",
                         str(tmp_path / "p.jsonl"), *argv]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, err
    assert local_main(["--protocol", "release", "--release-dir", str(REFERENCE), "--method", "logprob",
                       "--dry-run", str(tmp_path / "p.jsonl")]) == 2
    assert "leave out --method" in capsys.readouterr().err
    # the local script's default method gives way to the release's written distributions
    assert local_main(["--protocol", "release", "--release-dir", str(REFERENCE), "--variant", "order",
                       "--dry-run", str(tmp_path / "p.jsonl")]) == 0
    import json

    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 144 and {x["method"] for x in lines} == {"verbalized"}


@pytest.mark.slow
def test_the_local_backend_applies_the_chat_template_to_the_releases_messages(release, tiny_model):
    """The bundled model's real tokenizer: the text our local backend tokenizes is
    `apply_chat_template` of the messages the release's own function passes it, tokenized as the
    release tokenizes it; greedy generation to its token limit gives the release's own reply."""
    import torch

    from utils.probing.backends.hf.backend import HFBackend
    from utils.probing.loop import ask
    from utils.probing.methods.verbalized import Verbalized

    tokenizer, model = tiny_model
    local = load_release_protocol(REFERENCE, "local")
    request = local.rq1().requests[4]

    class Recording:  # the real tokenizer and model; what the release passes them is kept
        def __init__(self, inner):
            self.inner, self.seen = inner, []

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def apply_chat_template(self, messages, **kw):
            self.seen.append(messages)
            return self.inner.apply_chat_template(messages, **kw)

        def __call__(self, *a, **kw):
            return self.inner(*a, **kw)

        def generate(self, *a, **kw):
            self.seen.append(kw)
            return self.inner.generate(*a, **kw)

    tok, mod = Recording(tokenizer), Recording(model)
    with torch.no_grad():
        reply = release.get_llm_expressed_distribution(SimpleNamespace(model=mod, tokenizer=tok),
                                                       request.messages[-1].content)
    [messages], [kwargs] = tok.seen, mod.seen
    assert as_dicts(request.messages) == messages
    decoding = local.decoding()
    assert kwargs["max_new_tokens"] == decoding.max_tokens and kwargs["do_sample"] is False and decoding.greedy
    backend = HFBackend(model, tokenizer, special_tokens=True)
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert backend.encode(request) == tokenizer(text)["input_ids"]  # special tokens added, as the release does
    method = Verbalized(0.0, 0.0, decoding.max_tokens, read=local.read, stop=None)
    backend.prepare([request])
    [(_, result)] = ask(backend, method, [request])
    assert result.raw_text.strip() == reply and result.attempts == 1
    accepted = release_stores(release.match_llm_str, reply)
    assert (result.response if result.status == "ok" else None) == accepted
    # the release's own matcher decides which one outcome is right for this (fixed, greedy) reply
    assert result.status == ("ok" if accepted is not None else "unparsed")
    assert accepted is not None or "not accepted by the release's rule" in result.error


# -- Q151: asked in RQ1 under our protocol, scored in RQ3 only ---------------------------------------------

def test_rq1_asks_q151_for_rq3_and_scores_the_144():
    import json

    from utils.analysis.answers import questionnaire_items
    from utils.core.human.wave_map import load_wave_map
    from utils.probing.conditions import rq1_items

    items = rq1_items()
    assert len(items) == 145 and items[-1].id == "Q151" and len({it.id for it in items}) == 145
    cross = load_wave_map()
    assert len(cross) == 75 and {w.id for w in cross} <= {it.id for it in items}  # RQ3 can score all 75
    q151 = next(w for w in cross if w.id == "Q151")
    assert items[-1].choice_keys == q151.choice_keys and items[-1].order == q151.order
    ids, _ = questionnaire_items()
    assert len(ids) == 144 and "Q151" not in ids  # the RQ1 score stays on the 144
    # our own wording, not the release's
    release_q151 = [json.loads(line) for line in (REFERENCE / "dataset/questions/WV567.jsonl").read_text(
        encoding="utf-8").splitlines() if "Q151" in line]
    assert release_q151 and all(r["question"] != items[-1].question for r in release_q151)


def test_files_written_before_the_protocol_columns_read_as_ours(tmp_path):
    import csv

    from utils.core.results.schema import COLUMNS, VERSIONS
    from utils.probing.results_store import ResultStore

    before_protocol = VERSIONS[3]

    path = tmp_path / "results.csv"
    row = dict.fromkeys(before_protocol, "") | {"id": "Q1", "status": "ok", "method": "verbalized",
                                                 "choice_keys": "['1', '2']", "distribution": '{"1": 1.0}',
                                                 "attempts": "1"}
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, before_protocol, lineterminator="\n")
        w.writeheader()
        w.writerow(row)
    with ResultStore(path) as store:
        assert store.rows["Q1"]["protocol"] == "ours" and store.rows["Q1"]["release_commit"] == ""
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)  # rewritten with them


def test_a_study_file_passes_the_protocol_to_every_job(tmp_path):
    from utils.study.study_file import load_study
    from utils.study.plan import study_jobs

    path = tmp_path / "study.toml"
    path.write_text(f'[probe]\nprotocol = "release"\nrelease_dir = "{REFERENCE}"\nlimit = 2\n\n[[models]]\n'
                    'backend = "local"\n\n[experiments.RQ1]\n\n[experiments.sensitivity]\nvariants = ["order"]\n\n'
                    '[human]\nsynthetic = true\n', encoding="utf-8")
    jobs = [job for js in study_jobs(load_study(path)).values() for job in js]
    local = load_release_protocol(REFERENCE, "local")
    expected = [local.rq1().requests[:2], local.sensitivity("order").requests[:2]]
    assert [[r.messages for r in job.conditions[0].requests] for job in jobs] == \
        [[r.messages for r in e] for e in expected]
    assert {(job.config.protocol, job.config.method) for job in jobs} == {("release", "verbalized")}


# -- the release's translation gaps in the analysis ---------------------------------------------------------

def test_the_translation_gaps_are_what_the_releases_files_lack(api):
    import json

    gaps = json.loads((ROOT / "inputs" / "analysis" / "release_translation_gaps.json").read_text())["languages"]
    languages = set(api.checkout.common.country_language_dict.values())
    assert gaps == {lang: api.missing_items(lang) for lang in sorted(languages) if api.missing_items(lang)}


def test_paper_compat_scores_language_conditions_on_the_releases_items(tmp_path, caplog):
    import csv

    from utils.analysis.paper.human import PaperHuman
    from utils.analysis.paper.rq2 import file_scores as rq2_file_scores
    from utils.analysis.steering import release_translation_gaps

    assert release_translation_gaps("language_persona", "China")[:2] == ("Q83", "Q84")
    assert release_translation_gaps("persona", "China") == () == release_translation_gaps("language", "Germany")
    path = tmp_path / "RQ2" / "language" / "China" / "m" / "results.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as fh:  # asked our way: Q83 has an answer too
        w = csv.writer(fh)
        w.writerow(["id", "question", "choices", "choice_keys", "answer", "type", "response"])
        for item in ("Q1", "Q83"):
            w.writerow([item, "q", "[]", "['1', '2']", "", "Opinion-Dependent", "{'1': '60%', '2': '40%'}"])
    human = PaperHuman({(156, "Q1"): {1: 3.0, 2: 1.0}, (156, "Q83"): {1: 1.0, 2: 3.0}}, {156: "China"},
                       synthetic=True)
    assert len(rq2_file_scores(path, human, 156, [])) == 2
    with caplog.at_level("WARNING"):
        scores = rq2_file_scores(path, human, 156, [], release_translation_gaps("language", "China"))
    assert len(scores) == 1 and "1 item(s) left out, not in the release's translation" in caplog.text


def test_coverage_says_which_items_the_release_never_asked(tmp_path):
    from utils.analysis.answers import AnswerPolicy, load_answers
    from utils.analysis.steering import release_translation_gaps
    from utils.core.records import ProbeResult
    from utils.core.results.spec import Experiment, RunSpec
    from utils.probing.results_store import ResultStore, result_row

    items = [r.item for r in load_release_protocol(REFERENCE, "api").rq1().requests]
    gaps = release_translation_gaps("language", "China")
    path = tmp_path / "results.csv"  # a release-protocol Chinese file: the 132 its translation has
    ident = RunSpec(Experiment.RQ2, model="m", steering="language", country="China", language="Chinese",
                    protocol="release", release_commit="x").columns()
    with ResultStore(path) as store:
        for it in items:
            if it.id not in gaps:
                d = {k: 1 / len(it.choice_keys) for k in it.choice_keys}
                store.append(result_row(it, ProbeResult(it.id, "ok", d, response="x"), "verbalized",
                                        {**ident, "prompt_sha256": "s"}))
    policy = AnswerPolicy()
    load_answers(path, [it.id for it in items], [it.order for it in items], policy)
    assert "132/144 items scored (100.0% of the 132 the release's translation has); left out: 12 not in the " \
           "release's translation (Q83, Q84" in "\n".join(policy.said.shown())


def test_a_model_that_writes_no_distribution_is_told_why_nothing_was_accepted(tmp_path):
    """The bundled 135M model answers the release's prompts with no distribution (it lists the
    options back); here a server that answers one option code, no distribution either. The run
    ends with one line saying why 0 are ok."""
    from openai_server import FakeOpenAIServer

    with FakeOpenAIServer(pick_one=True) as srv:
        proc = run_script("code/RQ1/prob_by_api.py", "--protocol", "release", "--release-dir", str(REFERENCE),
                          "--base_url", srv.base_url, "--model_name_or_path", "m", "--results-root", str(tmp_path),
                          "--quiet", "--limit", "2", "--max-attempts", "1")
    assert proc.returncode == 1 and len(srv.requests) == 2, proc.stderr
    assert "0 of 2 answers were accepted by the release's rule" in proc.stdout
    assert "use a larger model, or ask our way with --protocol ours --method logprob" in proc.stdout
