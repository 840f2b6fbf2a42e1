"""Fault cases about secrets: server text echoing a token or key is redacted everywhere it can appear
(terminal, logs, traceback logs), and only an allow-list of files is uploaded, at any depth."""

import json
import logging
from http.server import BaseHTTPRequestHandler

import pytest
from faults_helpers import loopback_server

from lima_hf.cli import main
from lima_hf.redaction import redact

HF_TOKEN = "hf_FaultTestToken0123456789abcdef"
API_KEY = "sk-faultTestKey0123456789abcdefXYZ"
SECRETS = (HF_TOKEN, API_KEY, "FaultTestToken", "faultTestKey")


def _assert_clean(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


class _Echo(BaseHTTPRequestHandler):
    """A server that echoes the request's credentials in its error, as some proxies do."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        auth = self.headers.get("Authorization", "")
        body = json.dumps({"error": f"bad request from {auth}; token={HF_TOKEN} key {API_KEY}"}).encode()
        self.send_response(self.server.status)
        self.send_header("X-Error-Message", f"denied for {auth} ({HF_TOKEN})")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def echo():
    with loopback_server(_Echo, status=400) as server:
        yield server


def test_push_error_echoing_the_token_is_redacted(echo, tmp_path, monkeypatch, capsys, caplog, user_files):
    from huggingface_hub import constants

    from lima_hf.data.dataset_folder import write_dataset_folder

    record = {"id": "1", "source": "s", "messages": [{"role": "user", "content": "q"}]}
    card = "---\nlicense: cc-by-4.0\n---\n# ds\n"
    folder = user_files(write_dataset_folder(tmp_path / "ds", {"default": {"train": [record]}}, card))
    monkeypatch.setenv("HF_TOKEN", HF_TOKEN)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{echo.server_port}")
    monkeypatch.setenv("LIMA_HF_LOG_DIR", str(tmp_path / "logs"))
    caplog.set_level(logging.INFO)
    for status in (400, 500):
        echo.status = status
        code = main(["push", "dataset", str(folder), "--repo_id", "me/ds", "--debug"])
        out = capsys.readouterr()
        assert code == 1 and "failed: HTTP" in out.err
        _assert_clean(out.out, out.err, caplog.text)
    _assert_clean(*(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()))


def test_http_judge_error_body_is_redacted(echo, tmp_path, capsys, caplog, monkeypatch, user_files):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    answers = tmp_path / "a.jsonl"
    answers.write_text(json.dumps({"id": "1", "prompt": "Q", "response": "A"}) + "\n")
    user_files(answers)
    caplog.set_level(logging.INFO)
    for status in (401, 503):
        echo.status = status
        code = main(["evaluate", "likert", "--responses", str(answers), "--judge", "http", "--judge_model", "m",
                     "--api_base", f"http://127.0.0.1:{echo.server_port}/v1", "--max_retries", "1",
                     "--output_dir", str(tmp_path / "r"), "--debug"])
        out = capsys.readouterr()
        assert code == 1 and "judge" in out.err
        _assert_clean(out.out, out.err, caplog.text)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            _assert_clean(path.read_text(errors="replace"))


def test_redactor_removes_tokens_keys_and_bearer_values():
    from lima_hf.redaction import register_secret

    register_secret("configured-value-42")
    text = redact(f"Authorization: Bearer abc.def-123456 {HF_TOKEN} {API_KEY} api_key=zzz999zzz configured-value-42")
    _assert_clean(text)
    assert "abc.def-123456" not in text and "zzz999zzz" not in text and "configured-value-42" not in text
    assert redact("the token has no write access (hf_xet missing)") == "the token has no write access (hf_xet missing)"
    assert redact("http://proxy/v1?key=abcdef123456&model=m") == "http://proxy/v1?key=[REDACTED]&model=m"


def test_upload_is_an_allow_list_at_any_depth():
    from pathlib import Path

    from lima_hf.hub import (
        DATASET_ALLOW_PATTERNS,
        DATASET_IGNORE_PATTERNS,
        MODEL_ALLOW_PATTERNS,
        MODEL_IGNORE_PATTERNS,
        _uploaded,
    )

    def model(path):
        return _uploaded(Path(path), MODEL_ALLOW_PATTERNS, MODEL_IGNORE_PATTERNS)

    for kept in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "README.md",
                 "chat_template.jinja", "generation_config.json", "sub/model-00001-of-00002.safetensors",
                 "model.safetensors.index.json", "special_tokens_map.json"):
        assert model(kept), kept
    for dropped in ("training_args.bin", "sub/training_args.bin", "a/b/state.pkl", "x.pkl", "scaler.pt",
                    "nested/scaler.pt", "optimizer.pt", "rng_state.pth", "checkpoint-10/model.safetensors",
                    "runs/events.out", ".env", "sub/.secret.json", "notes.txt", "pytorch_model.bin",
                    "credentials.json", "extra_config.json", "training_args.json"):
        assert not model(dropped), dropped
    assert not _uploaded(Path(".lima-hf-output.json"), DATASET_ALLOW_PATTERNS, DATASET_IGNORE_PATTERNS)
    assert _uploaded(Path("build_summary.json"), DATASET_ALLOW_PATTERNS, DATASET_IGNORE_PATTERNS)
    for dropped in ("credentials.json", "data/notes.json", "data/default/train-00000-of-00001.parquet"):
        assert not _uploaded(Path(dropped), DATASET_ALLOW_PATTERNS, DATASET_IGNORE_PATTERNS), dropped  # data: by card
    assert not _uploaded(Path("data/x.pkl"), DATASET_ALLOW_PATTERNS, DATASET_IGNORE_PATTERNS)
