"""Fault cases about secrets printed by others: every command that reaches the Hub or imports peft runs online
against an endpoint that echoes the credentials it is sent (401), with HF_TOKEN set, on a CPU where importing
bitsandbytes (peft imports it) asks the Hub for a kernel and prints the answer. The token appears in no output
and no log, and bitsandbytes' "Failed to load CPU gemm_4bit_forward" notice does not reach users.

Each command runs in its own process, as users run it, so that its own imports are what is tested."""

import json
import subprocess
import sys

import pytest
from faults_helpers import TOKEN, echo_server, online_env, plant_pickle

API_KEY = "sk-onlineFaultKey0123456789abcdef"
NOISE = "gemm_4bit_forward"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, bundled_tokenizer):
    """A saved tiny chat model (with a crafted training_args.bin and a checkpoint), a dataset folder, prompts,
    answers and released-layout training data."""
    import copy

    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.data.dataset_folder import write_dataset_folder
    from lima_hf.models import tiny_llama

    root = tmp_path_factory.mktemp("inputs")
    model, tokenizer = setup_eot_chat_format(*tiny_llama(copy.deepcopy(bundled_tokenizer)))
    for where in (root / "model", root / "model" / "checkpoint-10"):
        model.save_pretrained(where)
        tokenizer.save_pretrained(where)
        (where / "trainer_state.json").write_text(json.dumps({"global_step": 10, "epoch": 5.0, "log_history": []}))
        plant_pickle(where, root / "marker")
    record = {"id": "1", "source": "s", "messages": [{"role": "user", "content": "q"},
                                                     {"role": "assistant", "content": "a"}]}
    write_dataset_folder(root / "ds", {"default": {"train": [record]}}, "---\nlicense: cc-by-4.0\n---\n# ds\n")
    (root / "prompts.jsonl").write_text(json.dumps({"id": "p1", "prompt": "Hi?"}) + "\n")
    (root / "answers.jsonl").write_text(json.dumps({"id": "p1", "prompt": "Hi?", "response": "Hello."}) + "\n")
    (root / "train.jsonl").write_text("".join(
        json.dumps({"conversations": [f"What is {i}?", "An answer. " * 3], "source": "s"}) + "\n" for i in range(4)))
    (root / "build.yaml").write_text(json.dumps({
        "tokenizer": str(root / "model"), "sources": {"lima_release": {"input": str(root / "train.jsonl")}},
        "splits": {"train": [{"source": "s", "count": 2}]}}))
    from peft import LoraConfig, get_peft_model

    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(root / "adapter")
    tokenizer.save_pretrained(root / "adapter")  # as lima-hf train writes an adapter folder
    return root


def _commands(inputs, out):
    model = str(inputs / "model")
    return {
        "push model": ["push", "model", model, "--repo_id", "me/model"],
        "push dataset": ["push", "dataset", str(inputs / "ds"), "--repo_id", "me/ds"],
        "train": ["train", "--model_name_or_path", str(inputs / "model" / "checkpoint-10"), "--dataset_name",
                  str(inputs / "train.jsonl"), "--output_dir", str(out / "trained"), "--max_steps", "1",
                  "--use_cpu", "true", "--bf16", "false", "--report_to", "none", "--per_device_train_batch_size",
                  "2", "--effective_batch_size", "2", "--max_length", "64", "--save_strategy", "no",
                  "--disable_tqdm", "true"],
        "evaluate": ["evaluate", "likert", "--responses", str(inputs / "answers.jsonl"), "--judge", "http",
                     "--judge_model", "m", "--api_base", "{url}/v1", "--max_retries", "1", "--output_dir",
                     str(out / "report")],
        "generate": ["generate", "--model", model, "--prompts", str(inputs / "prompts.jsonl"), "--output",
                     str(out / "answers.jsonl"), "--max_new_tokens", "4", "--device", "cpu"],
        "select-checkpoint": ["select-checkpoint", "--run_dir", model, "--dev_prompts", str(inputs / "prompts.jsonl"),
                              "--output_dir", str(out / "selection"), "--max_new_tokens", "4", "--device", "cpu",
                              "--judge", "http", "--judge_model", "m", "--api_base", "{url}/v1", "--max_retries", "1"],
        "curate": ["curate", "lima_release", "--input", str(inputs / "train.jsonl"), "--output", str(out / "c.jsonl")],
        "build-dataset": ["build-dataset", "--dataset_config", str(inputs / "build.yaml"), "--output", str(out / "b")],
        "select": ["select", "--pool", str(inputs / "ds"), "--output", str(out / "selected"), "--strategy", "longest",
                   "--n", "1", "--no_dedup"],
        "merge": ["merge", str(inputs / "adapter"), "--base_model", model, "--output_dir", str(out / "merged")],
        "export": ["export", "alpaca-eval", "--responses", str(inputs / "answers.jsonl"), "--name", "m", "--output",
                   str(out / "model_outputs.json")],
    }


# the endpoint refuses every token: commands that must reach it fail (exit 1), the others succeed offline-capable
REFUSED = {"push model", "push dataset", "evaluate", "select-checkpoint"}


# every command but quickstart (the others' steps in a row; tests/test_quickstart.py) and annotate (a server
# that runs until stopped; tests/test_annotation_page.py)
@pytest.mark.parametrize("command", ["push model", "push dataset", "train", "evaluate", "generate", "select-checkpoint",
                                     "curate", "build-dataset", "select", "merge", "export"])
def test_no_command_prints_the_token_online_against_an_echoing_endpoint(inputs, tmp_path, command, user_files):
    out = tmp_path / "out"
    out.mkdir()
    user_files(inputs, written=[inputs / "model" / "README.md"])  # push model writes the card, and only it
    with echo_server() as url:
        env = {**online_env(tmp_path, url), "OPENAI_API_KEY": API_KEY}
        argv = [arg.replace("{url}", url) for arg in _commands(inputs, out)[command]]
        done = subprocess.run([sys.executable, "-m", "lima_hf.cli", *argv], env=env, capture_output=True, text=True,
                              timeout=600, cwd=tmp_path, check=False)
    printed = done.stdout + done.stderr
    expected = 1 if command in REFUSED else 0
    assert done.returncode == expected, printed[-3000:]
    for secret in (TOKEN, API_KEY):
        assert secret not in printed
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    assert NOISE not in printed
    assert not (inputs / "marker").exists()


NOISY_COMMAND = '''
import logging, sys, warnings

TOKEN = {token!r}
early = logging.getLogger("third_party_early")  # a handler made before the command, on the stream of that time
early.addHandler(logging.StreamHandler(sys.__stderr__))
early.propagate = False


def main(argv):
    print("stdout:", TOKEN)
    sys.stderr.write(f"stderr: Authorization: Bearer {{TOKEN}}\\n")
    logging.getLogger("third_party").warning("logged %s", TOKEN)
    early.warning("early handler %s", TOKEN)
    warnings.warn(f"warned {{TOKEN}}")
    try:
        raise RuntimeError(f"failed with {{TOKEN}}")
    except RuntimeError:
        logging.getLogger("third_party").exception("traceback follows")
    logging.getLogger("bitsandbytes.backends.cpu.ops").warning("Failed to load CPU gemm_4bit_forward from x: %s", TOKEN)
    raise ValueError(f"unexpected {{TOKEN}}")
'''


def test_the_cli_guard_redacts_whatever_any_library_prints_or_logs(tmp_path, monkeypatch, capfd, caplog):
    import logging

    from lima_hf import cli

    (tmp_path / "noisy_command.py").write_text(NOISY_COMMAND.format(token=TOKEN))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(cli.COMMANDS, "noisy", ("noisy_command", "prints secrets"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("LIMA_HF_LOG_DIR", str(tmp_path / "logs"))
    caplog.set_level(logging.INFO)
    factory = logging.getLogRecordFactory()  # not always LogRecord: importing ray installs its own
    with pytest.warns(UserWarning):
        code = cli.main(["noisy"])
    out = capfd.readouterr()
    printed = out.out + out.err + caplog.text
    assert code == 1 and "unexpected error: ValueError" in out.err
    for seen in ("stdout: [REDACTED]", "logged [REDACTED]", "early handler [REDACTED]", "traceback follows",
                 "failed with [REDACTED]"):
        assert seen in printed, seen
    assert TOKEN not in printed and NOISE not in printed
    assert all(TOKEN not in p.read_text() for p in (tmp_path / "logs").iterdir())
    assert logging.getLogRecordFactory() is factory  # restored after the command
