"""Fault cases about judge time limits: ``--judge_timeout`` bounds each request end to end, also against an
endpoint that drips its (valid) reply a byte at a time, and ``--judge_deadline`` bounds the whole run, also
against an endpoint that never answers. Loopback servers; each stops on its own after a few seconds, so that even
an unbounded client ends."""

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from faults_helpers import loopback_server

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere

REPLY = json.dumps({"choices": [{"message": {"content": "Rating: 5"}}]}).encode()


class _Drip(BaseHTTPRequestHandler):
    """A valid reply, one byte every 0.2 s (about 8 s in all)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        for byte in REPLY:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.2)

    def log_message(self, *args):
        pass


@pytest.fixture
def drip():
    with loopback_server(_Drip) as server:
        yield f"{server.url}/v1"


@pytest.fixture
def hanging():
    """Accepts connections and never answers (closes them after 30 s)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    threading.Timer(30, lambda: [c.close() for c in held]).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()
    for connection in held:
        connection.close()


def test_judge_timeout_bounds_a_request_that_drips(drip):
    from lima_hf.evaluation.judges.base import JudgeUnavailableError
    from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge

    judge = OpenAICompatibleJudge("m", api_base=drip, api_key="", max_retries=0, timeout=1)
    with pytest.raises(JudgeUnavailableError, match=r"sent no complete response within 1 s \(--judge_timeout 1\)"):
        judge.chat("rate this")


def test_judge_deadline_bounds_the_run_against_a_hanging_endpoint(hanging, tmp_path, capsys, user_files):
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": str(i), "prompt": "Q", "response": "A"}) + "\n" for i in range(3)))
    user_files(answers)
    code = main(["evaluate", "likert", "--responses", str(answers), "--judge", "http", "--judge_model", "m",
                 "--api_base", hanging, "--judge_deadline", "1.5", "--max_retries", "20", "--concurrency", "1",
                 "--output_dir", str(tmp_path / "report")])
    err = capsys.readouterr().err
    assert code == 1 and "--judge_deadline 1.5 s" in err, err
    # the run stopped at its deadline, not after a request timed out on its own (the server holds for 30 s)
    assert int(re.search(r"gave up after (\d+) s", err).group(1)) < 10, err
