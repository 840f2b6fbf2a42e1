"""The generation backends without vLLM: the registry, the CLI options reaching the backend, a clear error
when the vllm extra is missing, and the ablation launcher passing generation options through."""

import importlib.util
import sys
from pathlib import Path

import pytest

from lima_hf.cli_args import parse_args
from lima_hf.errors import ConfigError
from lima_hf.evaluation.backends import (
    BACKENDS,
    BackendArguments,
    GenerationBackend,
    load_backend,
)
from lima_hf.evaluation.generation import SamplingConfig

ROOT = Path(__file__).resolve().parents[1]


def test_registry_lists_both_backends_and_rejects_others():
    assert BACKENDS.names() == ["transformers", "vllm"]
    assert issubclass(BACKENDS.get("transformers"), GenerationBackend)
    with pytest.raises(ConfigError, match="unknown generation backend 'tgi' \\(choose from transformers, vllm\\)"):
        load_backend("tgi", "model")


def test_cli_options_reach_the_engine():
    sampling, engine = parse_args(
        [SamplingConfig, BackendArguments],
        ["--backend", "vllm", "--tensor_parallel_size", "4", "--gpu_memory_utilization", "0.8",
         "--max_model_len", "4096"],
        prog="test",
    )
    assert (engine.backend, engine.tensor_parallel_size, engine.gpu_memory_utilization, engine.max_model_len) == (
        "vllm", 4, 0.8, 4096)
    assert sampling.batch_size is None  # the backend's default: 8 for transformers, 256 for vllm


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_missing_vllm_names_the_extra():
    from lima_hf._optional import MissingExtraError

    with pytest.raises(MissingExtraError, match=r"lima-hf\[vllm\]"):
        BackendArguments(backend="vllm").load("some/model")


def test_ablation_launcher_passes_generation_options(capsys):
    spec = importlib.util.spec_from_file_location("run_ablations", ROOT / "recipes/ablations/run_ablations.py")
    launcher = importlib.util.module_from_spec(spec)
    sys.modules["run_ablations"] = launcher
    spec.loader.exec_module(launcher)
    assert launcher.main(["--study", "quality", "--dry_run", "--steps", "select", "generate", "--test_prompts",
                          "test.jsonl", "--generate_arg=--backend", "--generate_arg=vllm"]) == 0
    commands = [line[2:].split() for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert commands and all(c[c.index("--backend") + 1] == "vllm" for c in commands)
    assert {next(w for w in c if w in ("select-checkpoint", "generate")) for c in commands} == {
        "select-checkpoint", "generate"}
