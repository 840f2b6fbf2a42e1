"""The model card of a trained model or LoRA adapter, a ``huggingface_hub.ModelCard``: the Hub metadata
(base_model, datasets, license, tags, library_name, pipeline_tag, ``model-index`` from evaluation reports), the
training hyper-parameters and outcome, how to chat with plain ``transformers`` (or ``peft``), the evaluation
tables and the LIMA citation. ``lima-hf train`` (``LimaSFTTrainer.create_model_card``) and
``lima-hf push model`` both write it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from lima_hf.errors import InputError
from lima_hf.io import atomic_open, read_json
from lima_hf.models import BUNDLED_MODELS, bundled_model_for
from lima_hf.paper import CITATION, PAPER_URL
from lima_hf.training.checkpoints import load_trainer_state, load_training_args

logger = logging.getLogger(__name__)

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


def chat_template(folder: Path) -> str | None:
    """The chat template a saved tokenizer carries (``chat_template.jinja`` or ``tokenizer_config.json``)."""
    template_file = folder / "chat_template.jinja"
    if template_file.is_file():
        return template_file.read_text(encoding="utf-8")
    template = (read_json(folder / "tokenizer_config.json") or {}).get("chat_template")
    if isinstance(template, list):  # several named templates
        template = next((t.get("template") for t in template if t.get("name") == "default"), None)
    return template


def is_adapter(folder: Path) -> bool:
    """A PEFT adapter folder (``adapter_config.json``), as ``lima-hf train`` writes with ``use_peft``."""
    return (folder / "adapter_config.json").is_file()


def is_repo_id(name: str) -> bool:
    """Whether ``name`` is a valid Hub repo id (``huggingface_hub.utils.validate_repo_id``)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


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
        facts = training_data_facts(state)
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


def training_data_facts(state: Mapping[str, Any] | None) -> dict | None:
    """``{"train_examples", "train_examples_eot_trimmed"}`` that ``LimaSFTTrainer`` keeps in a trainer state
    (``stateful_callbacks.TrainingDataFacts``), or None."""
    facts = ((state or {}).get("stateful_callbacks") or {}).get("TrainingDataFacts")
    if isinstance(facts, list):  # transformers lists the states of repeated callbacks
        facts = facts[-1] if facts else None
    return dict(facts["args"]) if isinstance(facts, Mapping) and "args" in facts else None


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
        return eot_token_from_template(chat_template(folder))
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

    A bundled model's folder is its Hub original (``google/gemma-3-270m``, ``HuggingFaceTB/SmolLM2-135M-Instruct``); a folder of the Hub cache
    (``.../models--org--name/snapshots/<commit>``) is ``org/name``; a folder whose ``config.json`` or model
    card names a Hub id is that id; any other local folder is None."""
    if not name_or_path:
        return None
    name = str(name_or_path).rstrip("/")
    path = Path(name)
    if bundled_model_for(path) is not None:
        return bundled_model_for(path).hub_id
    if not path.exists():
        return name if "/" in name and is_repo_id(name) else None
    parts = path.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3][len("models--"):].replace("--", "/", 1)
    return _default_base_model(path) if path.is_dir() else None


def _default_base_model(folder: Path) -> str | None:
    """The base model's Hub id: from the trainer's card, else from config.json or an adapter's
    adapter_config.json; None for local paths."""
    config = read_json(folder / "config.json") or {}
    adapter = read_json(folder / "adapter_config.json") or {}
    for name in (_existing_card_metadata(folder).get("base_model"), config.get("_name_or_path"),
                 adapter.get("base_model_name_or_path")):
        if isinstance(name, list):
            name = name[0] if name else None
        if isinstance(name, str) and bundled_model_for(name) is not None:
            return bundled_model_for(name).hub_id
        if isinstance(name, str) and "/" in name and not Path(name).exists() and is_repo_id(name):
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

    ``training_args`` (a ``TrainingArguments.to_dict()``) defaults to the folder's ``training_args.json``
    (never the pickled ``training_args.bin``);
    the training outcome (steps, epochs completed, examples used and EOTs trimmed, final loss) comes from
    ``trainer_state`` (a ``TrainerState`` as a dict), by default the folder's ``trainer_state.json``;
    ``evaluation_dir`` is a folder written by ``lima-hf evaluate`` whose results are added as a table. The
    title is the repository's name for a Hub id (``namespace/name``), else says what was fine-tuned.
    ``adapter`` (default: whether ``folder`` holds ``adapter_config.json``) makes it an adapter card:
    ``library_name: peft``, the LoRA settings, and how to load the adapter on its base model.
    """
    from huggingface_hub import ModelCard, ModelCardData

    folder = Path(folder)
    adapter = is_adapter(folder) if adapter is None else adapter
    base_model = base_model or _default_base_model(folder)
    bundled = next((m for m in map(BUNDLED_MODELS.get, BUNDLED_MODELS.names()) if m.hub_id == base_model), None)
    license = license or (bundled.hub_license if bundled else None)
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
    if bundled is not None:
        sections.append(f"Base model licence: {bundled.licence}; the fine-tuned weights are under the same terms.")
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
        figures = read_json(path) or {}
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
    config = read_json(folder / "adapter_config.json")
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
