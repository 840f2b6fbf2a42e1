"""Push a trained model or a built dataset to the Hugging Face Hub, with its card.

:func:`push_model` uploads a model folder written by ``lima-hf train`` (weights, config, tokenizer with the
EOT chat template) with a model card that carries the Hub's metadata (base_model, datasets, license, tags,
library_name, pipeline_tag), the training hyperparameters, how to chat with plain ``transformers`` and the
evaluation results when a report folder is given. :func:`push_dataset` uploads a folder written by
``lima-hf build-dataset`` after checking its card. Both create the repository when needed
(``HfApi.create_repo``) and upload with ``HfApi.upload_folder``: with ``hf_xet`` installed (the default)
that is huggingface_hub's streamed, multi-commit upload made for folders of many large shards, and
re-running an interrupted push resumes it (files already on the Hub are skipped); without ``hf_xet`` it is
one commit over git-LFS, and re-running skips the large files already uploaded.

The token comes from the usual places (``token=``, ``HF_TOKEN``, ``hf auth login``) through
``huggingface_hub.get_token``; it is only handed to ``HfApi`` and never printed, logged or written.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lima_hf.io import InputError, atomic_open
from lima_hf.models import BUNDLED_MODEL_NAME
from lima_hf.paper import CITATION, PAPER_URL
from lima_hf.redaction import redact, register_secret

logger = logging.getLogger(__name__)

# What is uploaded, at any depth: an allow-list (weights as safetensors, configs, tokenizer files, chat
# templates, cards). Everything else stays local: training_args.bin (a pickle that holds hub_token verbatim
# when a recipe set one; the card carries its hyperparameters instead), *.pkl, optimizer/scheduler/scaler
# states, RNG states, DeepSpeed shards, TensorBoard runs, notes. Intermediate checkpoints and hidden files
# are excluded even when they hold allowed files.
MODEL_ALLOW_PATTERNS = ("*.safetensors", "*.safetensors.index.json", "*config.json", "*tokenizer.json",
                        "*tokenizer.model", "*special_tokens_map.json", "*added_tokens.json", "*vocab.json",
                        "*vocab.txt", "*merges.txt", "*chat_template.jinja", "*chat_template.json", "*README.md")
MODEL_IGNORE_PATTERNS = ("checkpoint-*", "checkpoint-*/**", "*/checkpoint-*/**", "runs/**", "**/*.tmp", ".*",
                         "**/.*", "*/.*", "global_step*/**")
DATASET_ALLOW_PATTERNS = ("*.parquet", "*.arrow", "*.md", "*.png", "*.svg", "*.json", "*.jsonl")
DATASET_IGNORE_PATTERNS = ("**/*.tmp", ".*", "**/.*", "*/.*")
CARD_TAG = "lima-hf"
MODEL_TAGS = ("lima-hf", "lima", "trl", "sft", "alignment")
ADAPTER_TAGS = ("peft", "lora")
BUNDLED_BASE_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # the Hub original of the bundled model
# Training arguments shown in the card, in this order, with the paper's names.
_HYPERPARAMETERS = (
    ("learning_rate", "learning rate"),
    ("lr_scheduler_type", "scheduler"),
    ("lr_scheduler_kwargs", "scheduler arguments"),
    ("warmup_steps", "warmup steps"),
    ("warmup_ratio", "warmup ratio"),
    ("num_train_epochs", "epochs"),
    ("per_device_train_batch_size", "batch size per device"),
    ("gradient_accumulation_steps", "gradient accumulation steps"),
    ("optim", "optimizer"),
    ("adam_beta1", "AdamW beta1"),
    ("adam_beta2", "AdamW beta2"),
    ("weight_decay", "weight decay"),
    ("max_length", "max sequence length (tokens)"),
    ("final_learning_rate", "final learning rate"),
    ("effective_batch_size", "examples per optimizer step"),
    ("residual_dropout", "residual dropout (top layer; 0.0 at the bottom)"),
    ("residual_dropout_schedule", "residual dropout schedule"),
    ("assistant_only_loss", "loss on assistant tokens only"),
    ("bf16", "bf16"),
    ("gradient_checkpointing", "gradient checkpointing"),
    ("seed", "seed"),
)


class HubPushError(RuntimeError):
    """A push failed (network, permissions, server); the message says what happened and how to resume."""


@dataclass
class PushResult:
    """Where a push went: the repository URL and the commit that holds the files."""

    repo_url: str
    commit_url: str
    files: list[str]


# --------------------------------------------------------------------------- folder checks


def _require_folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    return folder


def check_model_folder(folder: str | os.PathLike) -> Path:
    """Check that ``folder`` loads with plain ``transformers`` (config, weights) or ``peft`` (an adapter), with a
    tokenizer and its chat template."""
    folder = _require_folder(folder)
    missing = []
    if _is_adapter(folder):
        if not any(folder.glob("adapter_model.*")):
            missing.append("adapter weights (adapter_model.safetensors)")
    else:
        if not (folder / "config.json").is_file():
            missing.append("config.json")
        if not any(folder.glob("*.safetensors")) and not any(folder.glob("pytorch_model*.bin")):
            missing.append("model weights (*.safetensors)")
    if not (folder / "tokenizer_config.json").is_file():
        missing.append("tokenizer_config.json")
    if missing:
        raise InputError(f"{folder}: not a saved model or adapter folder, missing {', '.join(missing)}")
    if _chat_template(folder) is None:
        raise InputError(
            f"{folder}: the tokenizer has no chat template, so the model cannot chat with plain transformers; "
            "save it with lima_hf.setup_eot_chat_format (lima-hf train does)"
        )
    return folder


def _is_adapter(folder: Path) -> bool:
    """A PEFT adapter folder (``adapter_config.json``), as ``lima-hf train`` writes with ``use_peft``."""
    return (folder / "adapter_config.json").is_file()


def check_dataset_folder(folder: str | os.PathLike) -> Path:
    """Check a dataset folder's card: README.md with valid YAML whose ``configs`` name files that exist."""
    from huggingface_hub import DatasetCard

    folder = _require_folder(folder)
    readme = folder / "README.md"
    if not readme.is_file():
        raise InputError(f"{folder}: no README.md dataset card (write the folder with `lima-hf build-dataset`)")
    try:
        card = DatasetCard.load(readme)
    except (ValueError, yaml.YAMLError) as err:
        raise InputError(f"{readme}: malformed dataset card metadata ({err})") from err
    metadata = card.data.to_dict()
    configs = metadata.get("configs")
    if not isinstance(configs, list) or not configs:
        raise InputError(f"{readme}: the card's YAML declares no 'configs' (which files make which split)")
    for config in configs:
        name = config.get("config_name") if isinstance(config, dict) else None
        if not name:
            raise InputError(f"{readme}: a 'configs' entry has no config_name: {config!r}")
        data_files = config.get("data_files") or []
        if isinstance(data_files, (str, dict)):
            data_files = [data_files]
        if not data_files:
            raise InputError(f"{readme}: config {name!r} lists no data_files")
        for entry in data_files:
            paths = entry.get("path") if isinstance(entry, dict) else entry
            for pattern in [paths] if isinstance(paths, str) else paths or []:
                if not any(folder.glob(pattern)):
                    raise InputError(f"{readme}: config {name!r} names {pattern!r}, which matches no file in {folder}")
    if not metadata.get("license"):
        raise InputError(f"{readme}: the card's YAML has no 'license'")
    return folder


# --------------------------------------------------------------------------- model card


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from err


def _chat_template(folder: Path) -> str | None:
    template_file = folder / "chat_template.jinja"
    if template_file.is_file():
        return template_file.read_text(encoding="utf-8")
    template = (_read_json(folder / "tokenizer_config.json") or {}).get("chat_template")
    if isinstance(template, list):  # several named templates
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    return template


def _checkpoint_dirs(folder: Path) -> list[Path]:
    """The ``checkpoint-<step>`` folders of a training output folder, by step (transformers' own listing)."""
    from transformers.trainer_utils import sort_checkpoints

    return [Path(path) for path in sort_checkpoints(str(folder))] if folder.is_dir() else []


def load_trainer_state(folder: str | os.PathLike) -> dict | None:
    """``trainer_state.json`` of a training output folder, else of its last ``checkpoint-*``; None if absent."""
    folder = Path(folder)
    for candidate in [folder, *reversed(_checkpoint_dirs(folder))]:
        state = _read_json(candidate / "trainer_state.json")
        if state is not None:
            return state
    return None


def load_training_args(folder: str | os.PathLike) -> dict | None:
    """The training arguments saved by the Trainer (``training_args.bin``) as a dict, tokens redacted.

    ``training_args.bin`` is a pickle written by ``transformers.Trainer``; it is read only from the
    folder being pushed, i.e. the user's own training output, and never uploaded.
    """
    folder = Path(folder)
    for candidate in [folder, *reversed(_checkpoint_dirs(folder))]:
        path = candidate / "training_args.bin"
        if path.is_file():
            import torch

            try:
                args = torch.load(path, weights_only=False, map_location="cpu")
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, RuntimeError) as err:
                # a truncated file, or a pickle of classes from another library version
                logger.warning("cannot read %s (%s); the card will not list the training arguments", path, err)
                return None
            return args.to_dict() if hasattr(args, "to_dict") else None
    return None


def _hyperparameter_rows(args: Mapping[str, Any] | None, state: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    rows = []
    if args:
        for key, label in _HYPERPARAMETERS:
            value = args.get(key)
            if value in (None, "", {}):
                continue
            if key == "num_train_epochs" and (args.get("max_steps") or 0) > 0:
                key, label, value = "max_steps", "optimizer steps planned (max_steps; it overrides the epochs)", args["max_steps"]
            if key.endswith("learning_rate") and isinstance(value, float):
                rows.append((label, format_rate(value)))
            else:
                rows.append((label, json.dumps(value) if isinstance(value, (dict, list)) else str(value)))
    if state:
        if state.get("global_step"):
            rows.append(("optimizer steps", str(state["global_step"])))
        if state.get("epoch") is not None:
            rows.append(("epochs completed", f"{state['epoch']:.3g}"))
        facts = next((entry for entry in state.get("log_history", []) if "train_examples" in entry), None)
        if facts:
            rows.append(("training examples", str(facts["train_examples"])))
            rows.append(("training examples whose final end-of-turn token was trimmed at max length",
                         str(facts["train_examples_eot_trimmed"])))
        losses = [entry["loss"] for entry in state.get("log_history", []) if "loss" in entry]
        if losses:
            rows.append(("final training loss", f"{losses[-1]:.4f}"))
        if state.get("best_model_checkpoint"):
            rows.append(("selected checkpoint", Path(state["best_model_checkpoint"]).name))
    return rows


def format_rate(value: float) -> str:
    """A learning rate as people write it: ``3e-4``, ``2.5e-5``, ``0.01`` (three significant digits)."""
    text = f"{value:.3g}" if value == 0 or abs(value) >= 1e-3 else f"{value:.2e}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _eot_token(folder: Path) -> str | None:
    from lima_hf.chat import eot_token_from_template

    try:
        return eot_token_from_template(_chat_template(folder))
    except ValueError:
        return None


def _existing_card_metadata(folder: Path) -> dict:
    """YAML metadata of ``folder/README.md`` (e.g. the card the trainer wrote), or {} when absent or malformed."""
    from huggingface_hub import ModelCard

    readme = folder / "README.md"
    if not readme.is_file():
        return {}
    try:
        return ModelCard.load(readme).data.to_dict()
    except (ValueError, yaml.YAMLError):  # a malformed hand-written card: treated as having no metadata
        return {}


def base_model_id(name_or_path: str | os.PathLike | None) -> str | None:
    """The Hub id of a base model given as a Hub id or a local folder, or None when it cannot be known.

    The bundled model's folder is ``HuggingFaceTB/SmolLM2-135M-Instruct``; a folder of the Hub cache
    (``.../models--org--name/snapshots/<commit>``) is ``org/name``; a folder whose ``config.json`` or model
    card names a Hub id is that id; any other local folder is None."""
    if not name_or_path:
        return None
    name = str(name_or_path).rstrip("/")
    path = Path(name)
    if path.name == BUNDLED_MODEL_NAME:
        return BUNDLED_BASE_MODEL
    if not path.exists():
        return name if "/" in name and _is_repo_id(name) else None
    parts = path.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--"):].replace("--", "/", 1)
    return _default_base_model(path) if path.is_dir() else None


def _default_base_model(folder: Path) -> str | None:
    """The base model's Hub id: from the trainer's card, else from config.json or an adapter's
    adapter_config.json; None for local paths."""
    config = _read_json(folder / "config.json") or {}
    adapter = _read_json(folder / "adapter_config.json") or {}
    for name in (_existing_card_metadata(folder).get("base_model"), config.get("_name_or_path"),
                 adapter.get("base_model_name_or_path")):
        if isinstance(name, list):
            name = name[0] if name else None
        if name == BUNDLED_MODEL_NAME or (isinstance(name, str) and name.rstrip("/").endswith(f"/{BUNDLED_MODEL_NAME}")):
            return BUNDLED_BASE_MODEL
        if isinstance(name, str) and "/" in name and not Path(name).exists() and _is_repo_id(name):
            return name
    return None


def build_model_card(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    base_model: str | None = None,
    datasets: Sequence[str] = (),
    license: str | None = None,
    language: Sequence[str] = ("en",),
    tags: Sequence[str] = (),
    evaluation_dir: str | os.PathLike | None = None,
    training_args: Mapping[str, Any] | None = None,
    adapter: bool | None = None,
    trainer_state: Mapping[str, Any] | None = None,
):
    """Return a ``huggingface_hub.ModelCard`` for the model in ``folder``.

    ``training_args`` (a ``TrainingArguments.to_dict()``) defaults to the folder's ``training_args.bin``;
    the training outcome (steps, epochs completed, examples used and EOTs trimmed, final loss) comes from
    ``trainer_state`` (a ``TrainerState`` as a dict), by default the folder's ``trainer_state.json``;
    ``evaluation_dir`` is a folder written by ``lima-hf evaluate`` whose results are added as a table. The
    title is the repository's name for a Hub id (``namespace/name``), else says what was fine-tuned.
    ``adapter`` (default: whether ``folder`` holds ``adapter_config.json``) makes it an adapter card:
    ``library_name: peft``, the LoRA settings, and how to load the adapter on its base model.
    """
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(folder)
    adapter = _is_adapter(folder) if adapter is None else adapter
    base_model = base_model or _default_base_model(folder)
    args = dict(training_args) if training_args is not None else load_training_args(folder)
    state = dict(trainer_state) if trainer_state is not None else load_trainer_state(folder)
    data = ModelCardData(
        base_model=base_model,
        datasets=list(datasets) or None,
        license=license,
        language=list(language) or None,
        library_name="peft" if adapter else "transformers",
        pipeline_tag="text-generation",
        tags=list(dict.fromkeys([*MODEL_TAGS, *(ADAPTER_TAGS if adapter else ()), *tags])),
        model_name=repo_id.split("/")[-1],
    )
    eot = _eot_token(folder)
    name = repo_id.split("/")[-1]
    if "/" in repo_id or not base_model:
        title = name
    else:
        title = f"{base_model.split('/')[-1]} fine-tuned with LIMA's recipe ({name})"
    sections = [
        f"# {title}",
        (
            f"A LoRA adapter for [{base_model}](https://huggingface.co/{base_model}), "
            if adapter and base_model
            else "A LoRA adapter, "
            if adapter
            else f"A chat model fine-tuned from [{base_model}](https://huggingface.co/{base_model}) "
            if base_model
            else "A chat model "
        )
        + f"following *LIMA: Less Is More for Alignment* ([Zhou et al., 2023]({PAPER_URL})): supervised "
        "fine-tuning on about a thousand carefully curated prompt-response pairs, trained with "
        "[lima-hf](https://github.com/lima-hf/lima-hf) (TRL `SFTTrainer` with residual dropout).",
    ]
    if datasets:
        sections.append("Training data: " + ", ".join(f"[{d}](https://huggingface.co/datasets/{d})" for d in datasets) + ".")

    if adapter:
        sections += ["## Chat with it (plain `transformers` + `peft`)", _adapter_chat_section(repo_id, eot)]
    else:
        sections += ["## Chat with it (plain `transformers`)", _chat_section(repo_id, eot)]

    rows = _adapter_rows(folder) + _hyperparameter_rows(args, state)
    if rows:
        sections += ["## Training hyperparameters", _markdown_table(["hyperparameter", "value"], rows)]

    if evaluation_dir is not None:
        sections += ["## Evaluation", _evaluation_section(Path(evaluation_dir))]
        data.eval_results = eval_results(evaluation_dir, data.model_name, datasets[0] if datasets else None) or None

    sections += [
        "## Framework versions",
        _markdown_table(["package", "version"], _framework_versions()),
        "## Citation",
        f"```bibtex\n{CITATION}\n```",
    ]
    return ModelCard.from_template(data, template_str=_CARD_TEMPLATE, body="\n\n".join(sections))


_CARD_TEMPLATE = "---\n{{ card_data }}\n---\n\n{{ body }}\n"
"""The model card: the Hub metadata (``ModelCardData``, with ``model-index`` from evaluation reports) and the
sections built above."""


def eval_results(report_dir: str | os.PathLike, model_name: str, dataset: str | None = None) -> list:
    """``huggingface_hub.EvalResult`` entries (the card's ``model-index``) for ``model_name`` from the
    ``report.json`` files of ``lima-hf evaluate`` below ``report_dir``: mean helpfulness (likert), win and
    win-or-tie rates against each baseline (pairwise), shares rated Excellent and Pass or better (absolute).
    A Likert or absolute report with several systems counts only the one named ``model_name``; ``dataset``
    names the prompts' dataset (default: GAIR/lima, the paper's)."""
    import math

    from huggingface_hub import EvalResult

    results = []
    for path in sorted(Path(report_dir).rglob("report.json")):
        figures = _read_json(path) or {}
        kind = figures.get("kind")
        metrics = []
        if kind == "pairwise":  # its `system` is the model compared with the baselines
            for baseline, summary in (figures.get("baselines") or {}).items():
                rates = summary.get("rates") or {}
                metrics += [("lima_preference", f"win rate vs {baseline}", rates.get("win")),
                            ("lima_preference", f"win or tie rate vs {baseline}",
                             (rates.get("win") or 0) + (rates.get("tie") or 0) if "win" in rates else None)]
            ours = figures.get("system")
        elif kind in ("likert", "absolute"):
            systems = figures.get("systems") or {}
            ours = model_name if model_name in systems else next(iter(systems)) if len(systems) == 1 else None
            summary = systems.get(ours) or {}
            if kind == "likert":
                metrics.append(("lima_likert", "helpfulness (1-6)", summary.get("mean")))
            else:
                rates = summary.get("rates") or {}
                metrics += [("lima_absolute", "Excellent rate", rates.get("Excellent")),
                            ("lima_absolute", "Pass or Excellent rate",
                             (rates.get("Pass") or 0) + (rates.get("Excellent") or 0) if rates else None)]
        else:
            continue
        prompts = (figures.get("prompts") or {}).get(ours) or "LIMA prompts"
        for metric_type, metric_name, value in metrics:
            if isinstance(value, (int, float)) and math.isfinite(value):
                results.append(EvalResult(
                    task_type="text-generation", task_name=f"Chat, judged as in LIMA ({kind})",
                    dataset_type=dataset or "GAIR/lima", dataset_name=str(prompts), metric_type=metric_type,
                    metric_name=metric_name, metric_value=round(float(value), 4),
                ))
    return results


def _adapter_rows(folder: Path) -> list[tuple[str, str]]:
    """The LoRA settings of an adapter folder's adapter_config.json (none for a full model)."""
    config = _read_json(folder / "adapter_config.json")
    if not config:
        return []
    targets = config.get("target_modules")
    rows = [("method", str(config.get("peft_type", "LORA"))), ("LoRA r", str(config.get("r"))),
            ("LoRA alpha", str(config.get("lora_alpha"))), ("LoRA dropout", str(config.get("lora_dropout"))),
            ("LoRA target modules", ", ".join(sorted(targets)) if isinstance(targets, list) else str(targets))]
    if config.get("trainable_token_indices"):
        rows.append(("trained token rows", json.dumps(config["trainable_token_indices"])))
    if config.get("modules_to_save"):
        rows.append(("fully trained modules", ", ".join(config["modules_to_save"])))
    return rows


def _adapter_chat_section(repo_id: str, eot: str | None) -> str:
    return (
        (f"The tokenizer adds the end-of-turn token `{eot}` to the base model's vocabulary; the adapter holds its "
         "trained embedding rows (not the whole matrices), so the base model is resized to the tokenizer before "
         "the adapter loads (`AutoPeftModelForCausalLM` does this). The adapter's `generation_config.json` lists "
         f"`{eot}` as a stop token.\n\n" if eot else "")
        + "```python\nfrom peft import AutoPeftModelForCausalLM\nfrom transformers import AutoTokenizer, GenerationConfig\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n'
        f'model = AutoPeftModelForCausalLM.from_pretrained("{repo_id}", dtype="auto", device_map="auto")  '
        "# base model, resized to the tokenizer\n"
        f'model.generation_config = GenerationConfig.from_pretrained("{repo_id}")  # stop at the end of the turn\n'
        'messages = [{"role": "user", "content": "How do I make a good cup of coffee?"}]\n'
        "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", "
        "return_dict=True).to(model.device)\n"
        "output = model.generate(**inputs, do_sample=True, top_p=0.9, temperature=0.7, max_new_tokens=2048)\n"
        'print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))\n```\n\n'
        "By hand: `AutoModelForCausalLM.from_pretrained(base)`, `base.resize_token_embeddings(len(tokenizer))`, "
        "then `PeftModel.from_pretrained(base, adapter)`; without the resize peft fails with an index error on the "
        "new row. `model.merge_and_unload()` (or `lima-hf merge`) gives a plain `transformers` model."
    )


def _chat_section(repo_id: str, eot: str | None) -> str:
    eot_text = (
        f"Every utterance ends with the end-of-turn token `{eot}`; the chat template adds it and the generation "
        "config lists it as a stop token, so `generate` stops at the end of the reply."
        if eot
        else "The tokenizer's chat template formats the conversation."
    )
    return (
        eot_text
        + "\n\n```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
        f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n'
        f'model = AutoModelForCausalLM.from_pretrained("{repo_id}", dtype="auto", device_map="auto")\n'
        'messages = [{"role": "user", "content": "How do I make a good cup of coffee?"}]\n'
        "inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors=\"pt\", "
        "return_dict=True).to(model.device)\n"
        "# LIMA's decoding: nucleus sampling p=0.9, temperature 0.7, at most 2,048 tokens.\n"
        "output = model.generate(**inputs, do_sample=True, top_p=0.9, temperature=0.7, max_new_tokens=2048)\n"
        'print(tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True))\n```\n\n'
        "LIMA also penalises repeating *previously generated* tokens (penalty 1.2): pass "
        "`logits_processor=[RepetitionPenaltyLogitsProcessor(1.2, prompt_ignore_length=inputs[\"input_ids\"]"
        ".shape[1])]` (from `transformers`); `repetition_penalty=1.2` alone penalises the prompt's tokens too. "
        "To continue a conversation, append the reply as an `assistant` message and the next question "
        "as a `user` message."
    )


def _evaluation_section(report_dir: Path) -> str:
    """The ``report.md`` tables of a ``lima-hf evaluate`` report folder (or of its sub-folders), headings demoted."""
    if not report_dir.is_dir():
        raise InputError(f"{report_dir}: evaluation report folder not found")
    reports = sorted(report_dir.rglob("report.md"))
    if not reports:
        raise InputError(f"{report_dir}: no report.md inside (write it with `lima-hf evaluate ... --output_dir`)")
    parts = []
    for report in reports:
        lines = report.read_text(encoding="utf-8").splitlines()
        kept = ["###" + line.lstrip("#") if line.startswith("#") else line for line in lines
                if not line.startswith("![")]  # plots stay in the report folder
        parts.append("\n".join(kept).strip())
    return "\n\n".join(parts)


def _framework_versions() -> list[tuple[str, str]]:
    from importlib.metadata import PackageNotFoundError, version

    rows = []
    for package in ("lima-hf", "transformers", "trl", "torch", "datasets", "accelerate"):
        try:
            rows.append((package, version(package)))
        except PackageNotFoundError:
            continue
    return rows


def write_model_card(folder: str | os.PathLike, card, *, overwrite: bool = False) -> Path:
    """Write ``card`` as ``folder/README.md``.

    A card written by lima-hf (tag ``lima-hf``) or by the trainer (tag ``trl``) is replaced; any other
    README.md is the user's own and is kept unless ``overwrite``.
    """
    readme = Path(folder) / "README.md"
    tags = _existing_card_metadata(Path(folder)).get("tags") or []
    if readme.is_file() and not overwrite and not {CARD_TAG, "trl"} & set(tags):
        logger.info("keeping the existing model card %s (not written by lima-hf or the trainer)", readme)
        return readme
    with atomic_open(readme, replace="any") as handle:  # checked above: ours, the trainer's, or overwrite
        handle.write(str(card))
    return readme


# --------------------------------------------------------------------------- upload


def _resolve_token(token: str | None) -> str:
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise HubPushError(
            "no Hugging Face token found: run `hf auth login`, or set the HF_TOKEN environment variable "
            "to a token with write access"
        )
    return token


def _is_repo_id(name: str) -> bool:
    """Whether ``name`` is a valid Hub repo id (``huggingface_hub.utils.validate_repo_id``)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def _check_repo_id(repo_id: str) -> None:
    if not isinstance(repo_id, str) or not _is_repo_id(repo_id):
        raise InputError(f"invalid repo_id {repo_id!r}: expected 'name' or 'namespace/name' (letters, digits, -_.)")


def _upload(
    folder: Path,
    repo_id: str,
    repo_type: str,
    *,
    private: bool,
    token: str | None,
    ignore_patterns: Sequence[str],
    allow_patterns: Sequence[str],
    commit_message: str,
    revision: str | None,
    endpoint: str | None,
) -> PushResult:
    import httpx2  # huggingface_hub's HTTP client
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    token = _resolve_token(token)
    register_secret(token)
    api = HfApi(endpoint=endpoint, token=token)
    files = sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*")
        if p.is_file() and _uploaded(p.relative_to(folder), allow_patterns, ignore_patterns)
    )
    where = f"{repo_type} repository {repo_id!r} on {api.endpoint}"
    try:
        repo_url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        logger.info("uploading %d files from %s to %s", len(files), folder, repo_url)
        commit = api.upload_folder(
            repo_id=repo_url.repo_id,
            folder_path=folder,
            repo_type=repo_type,
            revision=revision,
            commit_message=commit_message,
            allow_patterns=list(allow_patterns),
            ignore_patterns=list(ignore_patterns),
        )
    except (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError) as err:
        reason = redact(_describe(err))
        raise HubPushError(
            f"pushing {folder} to the {where} failed: {reason}. Nothing is lost: the local folder is "
            "unchanged, and files that reached the Hub are kept and skipped when you run the same push "
            "command again to resume."
        ) from err
    return PushResult(repo_url=str(repo_url), commit_url=commit.commit_url, files=files)


def _uploaded(relative: Path, allow: Sequence[str], ignore: Sequence[str]) -> bool:
    """Whether a file (path relative to the folder) is on the allow-list and not excluded."""
    from fnmatch import fnmatch

    text = relative.as_posix()
    return any(fnmatch(text, p) for p in allow) and not any(fnmatch(text, p) for p in ignore)


def _describe(err: BaseException) -> str:
    """One line saying why a request failed, without request headers (the token travels in them)."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(err, HfHubHTTPError) and err.response is not None:
        status = err.response.status_code
        hint = {401: "the token is invalid or expired", 403: "the token has no write access to this namespace",
                404: "repository or revision not found"}.get(status, "")
        server = redact(err.server_message or "").strip().splitlines()
        detail = "; ".join(part for part in (hint, server[0] if server else "") if part)
        return f"HTTP {status}" + (f" ({detail})" if detail else "")
    return redact(f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no details'}")


def push_model(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    base_model: str | None = None,
    datasets: Sequence[str] = (),
    license: str | None = None,
    tags: Sequence[str] = (),
    evaluation_dir: str | os.PathLike | None = None,
    training_args: Mapping[str, Any] | None = None,
    model_card: bool = True,
    overwrite_card: bool = False,
    commit_message: str = "Upload LIMA model with lima-hf",
    revision: str | None = None,
    endpoint: str | None = None,
) -> PushResult:
    """Upload a saved model folder to ``repo_id`` (created if needed) with a model card.

    The card is written to ``folder/README.md`` first (a hand-written README.md is kept unless
    ``overwrite_card``); ``model_card=False`` uploads the folder as it is. Intermediate ``checkpoint-*``
    folders and ``training_args.bin`` are not uploaded. Raises :class:`HubPushError` when the upload fails;
    running the same push again resumes it.
    """
    _check_repo_id(repo_id)
    folder = check_model_folder(folder)
    if model_card:
        card = build_model_card(folder, repo_id, base_model=base_model, datasets=datasets, license=license,
                                tags=tags, evaluation_dir=evaluation_dir, training_args=training_args)
        write_model_card(folder, card, overwrite=overwrite_card)
    return _upload(folder, repo_id, "model", private=private, token=token, ignore_patterns=MODEL_IGNORE_PATTERNS,
                   allow_patterns=MODEL_ALLOW_PATTERNS, commit_message=commit_message, revision=revision, endpoint=endpoint)


def push_dataset(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    commit_message: str = "Upload LIMA dataset with lima-hf",
    revision: str | None = None,
    endpoint: str | None = None,
) -> PushResult:
    """Upload a dataset folder (Parquet shards and its README.md card) to the dataset repo ``repo_id``.

    The card is checked first (:func:`check_dataset_folder`). Raises :class:`HubPushError` when the upload
    fails; running the same push again resumes it.
    """
    _check_repo_id(repo_id)
    folder = check_dataset_folder(folder)
    return _upload(folder, repo_id, "dataset", private=private, token=token, ignore_patterns=DATASET_IGNORE_PATTERNS,
                   allow_patterns=DATASET_ALLOW_PATTERNS, commit_message=commit_message, revision=revision, endpoint=endpoint)
