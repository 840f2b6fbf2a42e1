"""Fault cases of the CLI's error boundary: known errors are one line with exit 1/2, unexpected ones one
line plus the path of a traceback log; no abbreviations; duplicate YAML keys; help texts with '%'."""

import json
import sys
import types

import pytest
from faults_helpers import loopback_server

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()[-1]


def test_option_abbreviations_are_refused(capsys):
    assert main(["generate", "--max_new_token", "2", "--model", "m", "--prompts", "p", "--output", "o"]) == 2
    assert "unrecognized arguments: --max_new_token 2" in _err_line(capsys)


def test_duplicate_yaml_keys_name_the_file_and_line(tmp_path, capsys, user_files):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("max_new_tokens: 2\nlimit: 1\nmax_new_tokens: 4\n")
    build = tmp_path / "dataset.yaml"
    build.write_text("sources:\n  authored: {input: a}\n  authored: {input: b}\nsplits: {train: []}\n")
    user_files(tmp_path)
    assert main(["generate", "--config", str(recipe)]) == 2
    line = _err_line(capsys)
    assert f"{recipe}:3" in line and "duplicate key 'max_new_tokens' (first given on line 1)" in line
    assert main(["build-dataset", "--dataset_config", str(build), "--output", str(tmp_path / "o")]) == 1
    assert f"{build}:3" in _err_line(capsys)


@pytest.mark.parametrize("kind", ["pairwise", "likert", "absolute"])
def test_evaluate_help(kind, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", kind, "--help"])
    assert exit_.value.code == 0 and "intervals" in capsys.readouterr().out


def test_a_percent_sign_in_any_help_text_is_shown_not_formatted(capsys):
    from dataclasses import dataclass, field

    from lima_hf.cli_args import parse_args

    @dataclass
    class Options:
        share: float = field(default=0.5, metadata={"help": "Keep 50% of the rows (default: %(default)s)."})

    with pytest.raises(SystemExit):
        parse_args([Options], ["--help"], prog="lima-hf x")
    assert "Keep 50% of the rows (default: 0.5)." in " ".join(capsys.readouterr().out.split())


@pytest.fixture
def broken_command(monkeypatch):
    module = types.ModuleType("lima_hf_broken")

    def broken(argv):
        raise TypeError("an internal bug with hf_SecretToken123456 in it")

    module.main = broken
    monkeypatch.setitem(sys.modules, "lima_hf_broken", module)
    monkeypatch.setitem(__import__("lima_hf.cli").cli.COMMANDS, "broken", ("lima_hf_broken", "test"))


def test_unexpected_error_prints_one_line_and_the_log(broken_command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIMA_HF_LOG_DIR", str(tmp_path / "logs"))
    assert main(["broken"]) == 1
    line = _err_line(capsys)
    assert line.startswith("lima-hf broken: unexpected error: TypeError: an internal bug") and "--debug" in line
    (log,) = (tmp_path / "logs").iterdir()
    assert str(log) in line and "Traceback" in log.read_text() and "in broken" in log.read_text()
    assert "hf_SecretToken" not in line + log.read_text()
    assert main(["broken", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_invalid_utf8_in_jsonl_is_an_input_error(tmp_path, capsys, user_files):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_bytes(b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n')
    user_files(tmp_path)
    assert main(["generate", "--model", "bundled", "--prompts", str(prompts), "--output", str(tmp_path / "o.jsonl")]) == 1
    assert f"{prompts}:2: invalid UTF-8" in _err_line(capsys)


def test_corrupt_parquet_shard(tmp_path, capsys, user_files):
    shard = tmp_path / "pool.parquet"
    shard.write_bytes(b"PAR1 not really parquet")
    user_files(tmp_path)
    assert main(["select", "--pool", str(shard), "--n", "1", "--output", str(tmp_path / "out")]) == 1
    assert "cannot read Parquet" in _err_line(capsys)
    assert not (tmp_path / "out").exists()


def test_generate_with_a_missing_model_folder(tmp_path, capsys, user_files):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hi"}\n')
    user_files(tmp_path)
    code = main(["generate", "--model", str(tmp_path / "nope"), "--prompts", str(prompts),
                 "--output", str(tmp_path / "o.jsonl")])
    assert code == 2 and "no such model folder" in _err_line(capsys)


def _answers(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"id": "1", "prompt": "Q", "response": "A"}) + "\n")
    return path


def test_unavailable_judge_is_one_line(tmp_path, capsys, user_files):
    code = main(["evaluate", "likert", "--responses", str(user_files(_answers(tmp_path))), "--judge", "http", "--judge_model", "m",
                 "--api_base", "http://127.0.0.1:9/v1", "--max_retries", "0", "--output_dir", str(tmp_path / "r")])
    assert code == 1 and "unreachable" in _err_line(capsys)


@pytest.fixture
def html_endpoint():
    from http.server import BaseHTTPRequestHandler

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = self.server.body
            self.send_response(200)
            self.send_header("Content-Length", str(self.server.length or len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with loopback_server(Handler, body=b"<html><body>Login required</body></html>", length=None) as server:
        yield server


def test_judge_answering_html_or_a_truncated_body(tmp_path, capsys, html_endpoint, user_files):
    args = ["evaluate", "likert", "--responses", str(user_files(_answers(tmp_path))), "--judge", "http", "--judge_model", "m",
            "--api_base", f"http://127.0.0.1:{html_endpoint.server_port}/v1", "--max_retries", "0",
            "--output_dir", str(tmp_path / "r")]
    assert main(args) == 1
    assert "not a JSON reply ('<html><body>Login required" in _err_line(capsys)
    html_endpoint.body, html_endpoint.length = b'{"choices": [', 1000  # the connection drops mid-body
    assert main(args) == 1
    assert "unreachable (IncompleteRead)" in _err_line(capsys)


def test_judge_deadline_stops_retries(tmp_path):
    from lima_hf.evaluation.judges.base import JudgeUnavailableError
    from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge

    judge = OpenAICompatibleJudge("m", api_base="http://127.0.0.1:9/v1", max_retries=50, backoff=0.2, deadline=0.5)
    with pytest.raises(JudgeUnavailableError, match=r"gave up after \d+ s \(--judge_deadline 0.5 s\)"):
        judge.chat("hi")


def test_bundled_judge_model_is_the_bundled_model_not_the_hub(monkeypatch):
    import lima_hf.evaluation.judges.local as local
    from lima_hf.evaluation.judges.config import JudgeArguments, make_judge
    from lima_hf.models import bundled_model_path

    seen = []
    monkeypatch.setattr(local.TransformersJudge, "__init__", lambda self, model, **kw: seen.append(model))
    assert isinstance(make_judge(JudgeArguments(judge="local", judge_model="bundled")), local.TransformersJudge)
    assert seen == [bundled_model_path()]


def test_build_dataset_into_a_non_dataset_folder(tmp_path, capsys, user_files):
    from lima_hf.data.builder import quickstart_config_path

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x.txt").write_text("mine")
    user_files(tmp_path, quickstart_config_path())
    assert main(["build-dataset", "--dataset_config", str(quickstart_config_path()), "--output", str(tmp_path / "out")]) == 1
    assert "refusing to replace it" in _err_line(capsys)


def test_every_lima_hf_error_derives_from_the_one_base():
    """Every class named ``*Error`` in lima_hf derives from lima_hf.errors.LimaError (the CLI catches that base)."""
    import ast
    import importlib
    from pathlib import Path

    from lima_hf.errors import ConfigError, LimaError

    root = Path(__file__).resolve().parent.parent / "lima_hf"
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Error")]
        if names:
            module = importlib.import_module(".".join(path.relative_to(root.parent).with_suffix("").parts))
            found += [(module.__name__, name, getattr(module, name)) for name in names]
    assert len(found) >= 8
    for module, name, cls in found:
        assert issubclass(cls, LimaError), f"{module}.{name}"
    from lima_hf._optional import MissingExtraError

    assert issubclass(MissingExtraError, ConfigError) and issubclass(MissingExtraError, ImportError)
    import lima_hf.cli

    assert "_KNOWN_ERRORS" not in vars(lima_hf.cli)  # no lookup by class name
