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


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / f"recipes/ablations/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_ablation_launchers_take_the_backend_and_its_engine_options(tmp_path, capsys):
    launcher = _load_script("run_ablations")
    assert launcher.main(["--study", "quality", "--dry_run", "--steps", "select", "generate", "--test_prompts",
                          "test.jsonl", "--backend", "vllm", "--tensor_parallel_size", "2", "--enforce_eager"]) == 0
    commands = [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]
    assert len(commands) == 6 and all(c.endswith("--backend vllm --tensor_parallel_size 2 --enforce_eager True")
                                      for c in commands)
    with pytest.raises(SystemExit):
        launcher.main(["--dry_run", "--backend", "tgi"])
    assert "invalid choice: 'tgi' (choose from 'transformers', 'vllm')" in capsys.readouterr().err
    scan = _load_script("selection_scan")
    assert scan.main(["--dry_run", "--work_dir", str(tmp_path), "--arms", "random", "--backend", "vllm",
                      "--max_model_len", "1024", "--enforce_eager", "false"]) == 0
    generate = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("$ lima-hf generate"))
    assert generate.endswith("--batch_size 64 --backend vllm --max_model_len 1024 --enforce_eager false")
    parse_args([BackendArguments], generate.split()[3:][-6:], prog="test")  # lima-hf generate takes them


class _CopyBackend(GenerationBackend):
    """A backend that is not ``transformers``: generates with transformers from the folder it is loaded from."""

    name = "copy"
    loaded_from = []

    def __init__(self, inner, folder):
        super().__init__(inner.tokenizer, inner.stop_ids, inner.model_name)
        self.inner, self.folder = inner, folder

    @classmethod
    def load(cls, model_path, tokenizer=None, device=None, dtype="auto"):
        from lima_hf.evaluation.backends.transformers_backend import TransformersBackend

        cls.loaded_from.append((Path(model_path), sorted(p.name for p in Path(model_path).iterdir()), dtype))
        return cls(TransformersBackend.load(model_path, device="cpu", dtype=dtype), Path(model_path))

    def fingerprint(self):  # as the vllm backend's: the model by the name it was served under
        from types import SimpleNamespace

        from lima_hf.models import model_fingerprint

        model = SimpleNamespace(name_or_path=self.model_name, config=None)
        return {**model_fingerprint(model, self.tokenizer), "backend": {"name": self.name}}

    def generate(self, prompts, config, seeds):
        return self.inner.generate(prompts, config, seeds)


def test_a_loaded_model_is_served_from_a_saved_copy_by_another_backend(tiny_model, tmp_path, monkeypatch):
    """generate_responses(model, tokenizer, backend=...): a backend other than transformers serves the model as
    prepared in memory (new EOT row, chat template) from a temporary copy, removed afterwards; greedy answers
    are the transformers backend's."""
    from lima_hf.chat import setup_eot_chat_format
    from lima_hf.evaluation.generation import generate_responses

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    model.name_or_path = "my-prepared-model"
    monkeypatch.setitem(BACKENDS._entries, "copy", _CopyBackend)
    prompts = [{"id": "a", "turns": ["Name a color."]}, {"id": "b", "turns": ["Hi", "And again?"]}]
    greedy = SamplingConfig(temperature=0.0, max_new_tokens=6)
    served = generate_responses(model.eval(), tokenizer, prompts, tmp_path / "copy.jsonl", greedy, progress=False,
                                backend=BackendArguments(backend="copy"))
    direct = generate_responses(model, tokenizer, prompts, tmp_path / "hf.jsonl", greedy, progress=False)
    (folder, files, dtype), = _CopyBackend.loaded_from
    assert {"config.json", "generation_config.json", "tokenizer.json", "model.safetensors"} <= set(files)
    assert dtype == "float32" and not folder.exists()  # the copy is gone
    assert served[0]["produced_by"]["model"] == "my-prepared-model" and served[0]["model"] == "my-prepared-model"
    assert served[0]["produced_by"]["chat_template"] == direct[0]["produced_by"]["chat_template"]
    strip = ("produced_by",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in served] == [
        {k: v for k, v in r.items() if k not in strip} for r in direct]


def test_the_quickstart_passes_its_backend_to_the_evaluation():
    import inspect

    from lima_hf.commands.quickstart import QuickstartConfig
    from lima_hf.evaluation.quick import run_quick_evaluation

    (config,) = parse_args([QuickstartConfig], ["--backend", "vllm"], prog="lima-hf quickstart")
    assert config.backend == "vllm"
    with pytest.raises(Exception, match="tgi"):
        parse_args([QuickstartConfig], ["--backend", "tgi"], prog="lima-hf quickstart")
    assert inspect.signature(run_quick_evaluation).parameters["backend"].default == "transformers"
