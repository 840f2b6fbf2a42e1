"""Judging: retries of unparseable replies, resume after interruption, the HTTP judge on a loopback
server (429 then success, concurrency, endpoint down), mismatched prompt sets, and people's labels."""

import csv
import json
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from faults_helpers import loopback_server

from lima_hf.errors import InputError
from lima_hf.evaluation.judges.base import (
    JudgeUnavailableError,
    LabelsPending,
    ModelJudge,
    run_judge,
)
from lima_hf.evaluation.judges.openai_http import OpenAICompatibleJudge
from lima_hf.evaluation.judges.people import PeopleJudge
from lima_hf.evaluation.parsing import parse_likert
from lima_hf.evaluation.protocols.likert import run_likert
from lima_hf.evaluation.protocols.pairwise import Pairwise, build_pairs, run_pairwise
from lima_hf.evaluation.responses import load_responses


class ScriptedJudge(ModelJudge):
    """Replies from a function of (prompt, attempt); counts calls; can fail after N replies."""

    name = "scripted"

    def __init__(self, reply, fail_after=None):
        self.reply, self.fail_after, self.calls = reply, fail_after, []

    def complete(self, prompts, attempt=0, choices=None):
        for index, prompt in enumerate(prompts):
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                raise JudgeUnavailableError("scripted outage")
            self.calls.append((prompt, attempt))
            yield index, self.reply(prompt, attempt)


def _requests(n):
    return [{"key": f"k{i}", "prompt": f"grade answer {i}"} for i in range(n)]


def test_unparseable_replies_are_retried_then_recorded_unparsed(tmp_path):
    def reply(prompt, attempt):
        if prompt.endswith("0"):
            return "I refuse to grade."  # never parses
        return "5" if attempt == 1 else "very good!"  # parses on the first retry

    judge = ScriptedJudge(reply)
    result = run_judge(judge, _requests(3), parse_likert, tmp_path / "cache.jsonl", retries=2, progress=False)
    assert result["k0"] == {"label": None, "reply": "I refuse to grade.", "attempts": 3}
    assert result["k1"]["label"] == 5 and result["k1"]["attempts"] == 2
    assert len(judge.calls) == 3 + 3 + 1  # first pass, retry of all three, second retry of k0 only


def test_resume_after_interruption_asks_nothing_twice(tmp_path):
    cache = tmp_path / "cache.jsonl"
    with pytest.raises(JudgeUnavailableError, match="run the same command again to resume"):
        run_judge(ScriptedJudge(lambda p, a: "4", fail_after=3), _requests(5), parse_likert, cache, progress=False)
    assert len(cache.read_text().splitlines()) == 3
    judge = ScriptedJudge(lambda p, a: "4")
    result = run_judge(judge, _requests(5), parse_likert, cache, progress=False)
    assert len(judge.calls) == 2 and all(r["label"] == 4 for r in result.values())
    # a changed instruction (other template or answer) is judged again
    changed = [{"key": "k0", "prompt": "another text"}]
    judge = ScriptedJudge(lambda p, a: "2")
    assert run_judge(judge, changed, parse_likert, cache, progress=False)["k0"]["label"] == 2 and len(judge.calls) == 1


def test_truncated_last_line_of_an_interrupted_run_is_dropped(tmp_path):
    cache = tmp_path / "cache.jsonl"
    run_judge(ScriptedJudge(lambda p, a: "3"), _requests(2), parse_likert, cache, progress=False)
    with open(cache, "a") as handle:
        handle.write('{"key": "k2", "prompt_sha"')  # killed mid-write
    judge = ScriptedJudge(lambda p, a: "3")
    with pytest.warns(UserWarning, match="truncated last line"):
        run_judge(judge, _requests(3), parse_likert, cache, progress=False)
    assert len(judge.calls) == 1
    assert all(json.loads(line) for line in cache.read_text().splitlines())


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_pairwise_judges_both_orders_and_counts_unparsed(tmp_path):
    ours = _write_jsonl(
        tmp_path / "ours.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": f"GOOD {i}"} for i in range(4)]
    )
    base = _write_jsonl(
        tmp_path / "base.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": f"meh {i}"} for i in range(4)]
    )

    def reply(prompt, attempt):
        if "Q3" in prompt:
            return "no idea"
        if "Q2" in prompt:
            return "Choice: 1"  # always the first answer: position bias -> tie
        first = prompt.split("Answer A:")[1].split("Answer B:")[0]
        return "Choice: 1" if "GOOD" in first else "Choice: 2"

    judge = ScriptedJudge(reply)
    judged = Pairwise(judge, tmp_path / "r", progress=False).judge_all({"ours": ours, "base": base})["base"]
    judged = {p["id"]: p for p in judged}
    assert [judged[f"q{i}"]["outcome"] for i in range(4)] == ["win", "win", "tie", "unparsed"]
    ours_shown_first = ["GOOD" in prompt.split("Answer A:")[1].split("Answer B:")[0] for prompt, _ in judge.calls]
    assert len(judge.calls) == 4 * 2 + 2 * 2  # both orders of 4 pairs, then 2 retries of Q3's two orders
    assert ours_shown_first.count(True) == ours_shown_first.count(False)


def test_mismatched_prompt_sets_list_the_missing_prompts(tmp_path):
    ours = _write_jsonl(
        tmp_path / "ours.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": "r"} for i in range(4)]
    )
    base = _write_jsonl(
        tmp_path / "gpt4.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": "r"} for i in (0, 1, 5)]
    )
    with pytest.raises(InputError, match=r"2 prompts missing from gpt4: 'q2'.*'q3'.*1 prompts only in gpt4: 'q5'"):
        build_pairs(load_responses(ours), load_responses(base), "ours", "gpt4")
    # without ids, answers are matched by prompt text
    text_only = _write_jsonl(tmp_path / "bard.jsonl", [{"prompt": f"Q{i}", "response": "r"} for i in (3, 2, 1, 0)])
    assert [p["id"] for p in build_pairs(load_responses(ours), load_responses(text_only))] == ["q0", "q1", "q2", "q3"]
    with pytest.raises(InputError, match=r"matched by prompt text.*'Q9'"):
        bad = _write_jsonl(tmp_path / "bad.jsonl", [{"prompt": f"Q{i}", "response": "r"} for i in (0, 1, 2, 9)])
        build_pairs(load_responses(ours), load_responses(bad))


def test_human_export_and_import(tmp_path):
    ours = _write_jsonl(
        tmp_path / "ours.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": f"GOOD {i}"} for i in range(3)]
    )
    base = _write_jsonl(
        tmp_path / "base.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}", "response": f"meh {i}"} for i in range(3)]
    )
    out = tmp_path / "report"
    with pytest.raises(LabelsPending, match="--labels"):
        run_pairwise(ours, {"base": base}, out, PeopleJudge(), both_orders=False)
    sheet = out / "annotation" / "base" / "annotation.csv"
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    assert len(rows) == 3 and "ours" not in sheet.read_text() and all(r["label"] == "" for r in rows)
    assert "super-intelligent AI assistant" in (out / "annotation" / "base" / "instructions.md").read_text()
    for row in rows:
        row["label"] = "A better" if row["answer_a"].startswith("GOOD") else "B better"
    rows[0]["label"] = "hmm"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    figures = run_pairwise(ours, {"base": base}, out, PeopleJudge(out / "annotation"), both_orders=False)
    assert figures["baselines"]["base"]["counts"] == {"win": 2, "tie": 0, "loss": 0, "unparsed": 1}
    assert (out / "report.md").is_file() and (out / "preference.png").stat().st_size > 1000


class _ChatCompletions(BaseHTTPRequestHandler):
    """A /v1/chat/completions endpoint; the server object carries the script."""

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append((self.path, self.headers.get("Authorization"), body))
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            status = server.statuses.pop(0) if server.statuses else 200
        time.sleep(server.delay)
        with server.lock:
            server.in_flight -= 1
        if status != 200:
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "slow down"}}')
            return
        prompt = body["messages"][0]["content"]
        reply = {"choices": [{"message": {"role": "assistant", "content": f"Reasoning.\n{len(prompt) % 6 + 1}"}}]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    with loopback_server(_ChatCompletions, lock=threading.Lock(), requests=[], statuses=[], in_flight=0,
                         max_in_flight=0, delay=0.0) as server:
        yield server


def _judge(server, **kwargs):
    options = {"backoff": 0.01, "max_backoff": 0.05, "max_retries": 3, "api_key": "sk-test"}
    return OpenAICompatibleJudge(
        "judge-model", api_base=f"http://127.0.0.1:{server.server_port}/v1", **{**options, **kwargs}
    )


def test_http_judge_retries_429_then_succeeds(endpoint, caplog):
    endpoint.statuses = [429, 503]
    reply = _judge(endpoint).chat("hello")
    assert reply.startswith("Reasoning.")
    assert len(endpoint.requests) == 3
    path, auth, body = endpoint.requests[-1]
    assert path == "/v1/chat/completions" and auth == "Bearer sk-test"
    assert body["model"] == "judge-model" and body["messages"] == [{"role": "user", "content": "hello"}]
    assert "rate limited (429); retrying" in caplog.text


def test_http_judge_gives_up_with_a_clear_message(endpoint):
    endpoint.statuses = [500] * 10
    with pytest.raises(JudgeUnavailableError, match=r"chat/completions HTTP 500, still failing after 3 retries"):
        _judge(endpoint).chat("hello")
    endpoint.statuses = [401]
    with pytest.raises(JudgeUnavailableError, match="answered HTTP 401"):
        _judge(endpoint).chat("hello")
    dead = OpenAICompatibleJudge("m", api_base="http://127.0.0.1:9/v1", backoff=0.01, max_retries=1)
    with pytest.raises(JudgeUnavailableError, match="unreachable"):
        dead.chat("hello")


def test_http_judge_is_concurrent_and_resumable(endpoint, tmp_path):
    endpoint.delay = 0.05
    systems = {
        "a": _write_jsonl(
            tmp_path / "a.jsonl", [{"id": f"q{i}", "prompt": f"Q{i}" * i, "response": "x"} for i in range(12)]
        )
    }
    endpoint.statuses = [200] * 5 + [500] * 20  # the endpoint goes down after five answers
    with pytest.raises(JudgeUnavailableError, match="resume"):
        run_likert(systems, tmp_path / "r", _judge(endpoint, concurrency=4, max_retries=1), progress=False)
    saved = len((tmp_path / "r" / "judgments" / "likert-a.jsonl").read_text().splitlines())
    assert saved >= 5
    endpoint.statuses, endpoint.requests = [], []
    figures = run_likert(systems, tmp_path / "r", _judge(endpoint, concurrency=4), progress=False)
    assert len(endpoint.requests) == 12 - saved  # nothing judged twice
    assert endpoint.max_in_flight > 1
    assert figures["systems"]["a"]["n"] == 12 and figures["systems"]["a"]["unparsed"] == 0
    assert {"report.json", "report.md", "likert.png"} <= {p.name for p in (tmp_path / "r").iterdir()}


def test_local_choice_judge_picks_the_most_likely_reply(tiny_model):
    import torch

    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.evaluation.judges.local import TransformersJudge

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    model.eval()
    judge = TransformersJudge((model, tokenizer), mode="choice")
    choices = ["Choice: 1", "Choice: 2", "Choice: 3", "1", "Rating: Excellent"]
    prompts = ["Which answer is better? A or B", "Grade this answer.", "x" * 50]
    picked = dict(judge.complete(prompts, choices=choices))
    for index, prompt in enumerate(prompts):  # the same choice as scoring each option alone, unpadded
        context = tokenizer(judge._chat_text(prompt), add_special_tokens=False)["input_ids"]
        scores = []
        for choice in choices:
            option = tokenizer(choice, add_special_tokens=False)["input_ids"]
            with torch.inference_mode():
                logprobs = torch.log_softmax(model(input_ids=torch.tensor([context + option])).logits.float(), -1)
            scores.append(sum(logprobs[0, len(context) + k - 1, t].item() for k, t in enumerate(option)))
        assert picked[index] == choices[max(range(len(choices)), key=scores.__getitem__)]


def test_inference_client_falls_short_where_the_urllib_judge_does_not(endpoint, monkeypatch):
    """Why the HTTP judge keeps its own client: InferenceClient neither retries a 429 nor reaches a loopback
    judge server in the Hub's offline mode."""
    from huggingface_hub import InferenceClient, constants
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    base_url = f"http://127.0.0.1:{endpoint.server_port}/v1"
    client = InferenceClient(base_url=base_url, api_key="sk-test")
    messages = [{"role": "user", "content": "hello"}]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    endpoint.statuses = [429]
    with pytest.raises(HfHubHTTPError, match="429"):
        client.chat.completions.create(model="judge-model", messages=messages)
    assert len(endpoint.requests) == 1  # no retry
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(OfflineModeIsEnabled):
        client.chat.completions.create(model="judge-model", messages=messages)
    endpoint.statuses = [429]
    assert _judge(endpoint).chat("hello").startswith("Reasoning.")  # retried, and offline mode is no matter
