"""Train from script arguments: the data (:class:`LimaScriptArguments`), ``LimaSFTConfig`` and
``trl.ModelConfig`` in, a saved model folder out. ``lima-hf train`` and :func:`train` both run :func:`run`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trl import ScriptArguments

from lima_hf.data.records import VALIDATION_SPLIT, find_split
from lima_hf.errors import ConfigError, InputError

BUNDLED = "bundled"


@dataclass
class LimaScriptArguments(ScriptArguments):
    """``trl.ScriptArguments`` (which data to train on) with lima-hf's defaults; every TRL key is accepted."""

    dataset_name: str | None = field(
        default=None,
        metadata={
            "help": "Training data: a folder written by `lima-hf build-dataset`, a Hub dataset id, or the released "
            "LIMA data (GAIR/lima, or its train.jsonl)."
        },
    )
    dataset_config: str | None = field(
        default="default",
        metadata={
            "help": "Dataset configuration: 'default' (train/validation/test) or 'multi_turn' (train); join several "
            "with '+' to train on their train splits together ('default+multi_turn': the paper's 1,000 + 30 "
            "dialogues; evaluation uses the first one's split)."
        },
    )
    dataset_test_split: str = field(
        default="validation",
        metadata={
            "help": "Split to evaluate on when eval_strategy is not 'no': 'validation', LIMA's 50 dev examples "
            "('dev', the old name, is read too). 'test' has prompts only and cannot be evaluated on."
        },
    )

    def __post_init__(self):
        if self.dataset_streaming:
            raise ConfigError("dataset_streaming is not supported by lima-hf train: LIMA's data fits in memory")
        if self.dataset_config is None:  # TRL's default: the dataset's own default configuration
            self.dataset_config = "default"


def resolve_model_path(model_name_or_path: str | None) -> str:
    """``bundled`` is the bundled SmolLM2-135M-Instruct; anything else is a path or Hub id, passed through."""
    if not model_name_or_path:
        raise ConfigError("model_name_or_path is required (a path, a Hub id, or 'bundled' for the bundled SmolLM2)")
    if model_name_or_path == BUNDLED:
        from lima_hf.models import bundled_model_path

        return str(bundled_model_path())
    return model_name_or_path


def _train_split(data, name: str, where: str):
    if name not in data:
        raise InputError(f"{where} has no split '{name}'; it has {', '.join(data)}")
    split = data[name]
    if "messages" not in split.column_names:
        raise InputError(f"{where}: split '{name}' has no 'messages' column")
    if len(split) == 0:
        raise InputError(f"{where}: split '{name}' is empty")
    ids = split["id"] if "id" in split.column_names else [None] * len(split)
    for index, (record_id, messages) in enumerate(zip(ids, split["messages"])):
        check_training_messages(messages, f"{where}: split '{name}' record {index + 1}"
                                + (f" (id {record_id!r})" if record_id not in (None, "") else ""))
    return split.select_columns(["messages"])


def check_training_messages(messages, where: str) -> None:
    """A conversation LIMA's chat template can train on: system turns first (optional), then user and assistant
    turns alternating from a user turn, at least one assistant turn and none empty; else an
    :class:`~lima_hf.errors.InputError` starting with ``where`` (the record) that says what is wrong."""
    roles = [turn.get("role") for turn in messages or []]
    unknown = sorted({str(role) for role in roles} - {"system", "user", "assistant"})
    if unknown:
        raise InputError(f"{where}: role(s) {', '.join(map(repr, unknown))}; turns are 'system', 'user' or "
                         "'assistant' (rename e.g. human -> user, gpt -> assistant)")
    lead = next((index for index, role in enumerate(roles) if role != "system"), len(roles))
    if "system" in roles[lead:]:
        raise InputError(f"{where}: a system turn after the conversation started; put it first")
    turns = messages[lead:]
    for position, turn in enumerate(turns):
        expected = "user" if position % 2 == 0 else "assistant"
        if turn["role"] != expected:
            raise InputError(f"{where}: turn {position + 1} is {turn['role']!r}, expected {expected!r} (turns "
                             "alternate user, assistant, starting with user)")
        if expected == "assistant" and not str(turn.get("content") or "").strip():
            raise InputError(f"{where}: assistant turn {position // 2 + 1} is empty; there is nothing to learn")
    if len(turns) < 2:
        raise InputError(f"{where}: no assistant turn; there is nothing to learn")


def load_splits(script_args: LimaScriptArguments, with_eval: bool):
    """The training split (``messages`` only; the train splits of every ``+``-joined config together) and, when
    ``with_eval``, the evaluation split (of the first config) or ``None``."""
    from lima_hf.data.loading import load_lima_dataset

    if not script_args.dataset_name:
        raise ConfigError("dataset_name is required (a build-dataset folder, a Hub dataset id, or GAIR/lima)")
    configs = [config.strip() for config in script_args.dataset_config.split("+")]
    loaded = {config: load_lima_dataset(script_args.dataset_name, config) for config in configs}
    trains = [
        _train_split(loaded[config], script_args.dataset_train_split, f"{script_args.dataset_name} (config '{config}')")
        for config in configs
    ]
    data, where = loaded[configs[0]], f"{script_args.dataset_name} (config '{configs[0]}')"
    if len(trains) == 1:
        train = trains[0]
    else:
        import datasets

        train = datasets.concatenate_datasets([t.cast(trains[0].features) for t in trains])
    evaluation = None
    if with_eval:
        split = find_split(script_args.dataset_test_split, data, "dataset_test_split")
        if split is None:
            raise InputError(f"{where} has no split '{script_args.dataset_test_split}' to evaluate on")
        evaluation = data[split].select_columns(["messages"])
        if not any(m["role"] == "assistant" for row in evaluation["messages"] for m in row):
            raise InputError(
                f"{where}: split '{split}' has prompts only (no assistant replies), so there is no loss to "
                f"evaluate; use dataset_test_split: {VALIDATION_SPLIT} (LIMA's dev set), or eval_strategy: no"
            )
    return train, evaluation


def _umask_modes(output_dir: Path, since: float) -> None:
    """Give the files this run wrote the umask's permissions (safetensors writes weights 0600)."""
    from lima_hf.io import file_mode

    mode = file_mode()
    for path in output_dir.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_mtime >= since - 1:
            os.chmod(path, mode)


def check_train_output(output_dir: str, inputs: list[str | None], resume: str | None = None) -> None:
    """Refuse, before anything loads, an ``output_dir`` that is, holds or lies inside one of the ``inputs`` (the
    dataset, the base model or adapter: local paths; Hub ids are skipped) or is or lies inside the checkpoint
    resumed from. It may hold that checkpoint: resuming a run writes on into its own output folder."""
    from lima_hf.io import OutputRefusedError, check_output_not_input

    check_output_not_input(output_dir, [path for path in inputs if path and os.path.exists(path)], inside=True)
    if resume and os.path.isdir(resume):
        target, checkpoint = Path(os.path.realpath(output_dir)), Path(os.path.realpath(resume))
        if target == checkpoint or checkpoint in target.parents:
            raise OutputRefusedError(f"{output_dir}: is {'' if target == checkpoint else 'inside '}the checkpoint "
                                     f"resumed from, {resume}; resume with --output_dir set to the run's folder")


FINAL_STAGING = ".lima-hf-staging-final"
"""Where the final model is saved inside ``output_dir`` before it is moved into place (hidden: never pushed)."""
_LOADABLE_LAST = ("config.json", "adapter_config.json")


def save_final_model(trainer, output_dir: str) -> None:
    """Save the final model so that it appears whole or not at all: into :data:`FINAL_STAGING` inside
    ``output_dir`` (a run killed while saving leaves only that, removed by the next run), then moved into place
    file by file with ``config.json`` / ``adapter_config.json``, what makes the folder load, last."""
    import shutil

    staging = Path(output_dir) / FINAL_STAGING
    if trainer.accelerator.is_main_process and staging.exists():
        shutil.rmtree(staging)  # what a killed earlier save left
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(staging), _internal_call=True)  # no push from the staging folder: run() pushes at the end
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        for name in sorted(os.listdir(staging), key=lambda name: name in _LOADABLE_LAST):
            os.replace(staging / name, Path(output_dir) / name)
        staging.rmdir()
    trainer.accelerator.wait_for_everyone()


def _last_complete(output_dir: str, trainer) -> str:
    """The newest complete checkpoint of ``output_dir``, saying which half-written ones are skipped."""
    from lima_hf.training.checkpoints import last_complete_checkpoint

    found, skipped = last_complete_checkpoint(output_dir)
    for folder, reason in skipped:
        trainer.accelerator.print(f"lima-hf train: skipping incomplete checkpoint {folder} ({reason})")
    if found is None:
        raise InputError(f"{output_dir}: no complete checkpoint-* folder to resume from"
                         + (f" (skipped {len(skipped)} incomplete)" if skipped else ""))
    trainer.accelerator.print(f"lima-hf train: resuming from {found}")
    return str(found)


def run(script_args: LimaScriptArguments, training_args, model_args) -> Path:
    """Train with ``LimaSFTTrainer`` and save the final model (with tokenizer and chat template); returns its folder.

    Checkpoints ``checkpoint-<step>/`` (with ``trainer_state.json``) land in ``output_dir`` as
    ``save_strategy`` asks (every epoch end by default). ``resume_from_checkpoint`` is a checkpoint folder,
    or ``true``/``last`` for the latest complete one in ``output_dir`` (half-written ones are skipped).
    """
    from trl import get_peft_config, get_quantization_config

    from lima_hf.training.lora import check_quantization
    from lima_hf.training.residual_dropout import residual_dropout_rates
    from lima_hf.training.trainer import LimaSFTTrainer

    check_quantization(model_args)
    model_path = resolve_model_path(model_args.model_name_or_path)
    init_kwargs = {
        "revision": model_args.model_revision,
        "attn_implementation": model_args.attn_implementation,
        "dtype": model_args.dtype,
    }
    training_args.model_init_kwargs = {**init_kwargs, **(training_args.model_init_kwargs or {})}
    resume = training_args.resume_from_checkpoint
    check_train_output(training_args.output_dir, [script_args.dataset_name, model_path],
                       resume if isinstance(resume, str) else None)
    train_dataset, eval_dataset = load_splits(script_args, with_eval=training_args.eval_strategy != "no")

    trainer = LimaSFTTrainer(
        model_path,
        training_args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        peft_config=get_peft_config(model_args),
        quantization_config=get_quantization_config(model_args),
    )
    rates = residual_dropout_rates(trainer.model)
    trainer.accelerator.print(
        f"lima-hf train: residual dropout {rates[0]:.2f} (bottom) to {rates[-1]:.2f} (top) over {len(rates)} layers; "
        f"{trainer.accelerator.num_processes} process(es) x {training_args.per_device_train_batch_size} examples x "
        f"{training_args.gradient_accumulation_steps} accumulation steps per optimizer step"
    )
    if model_args.use_peft:
        trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in trainer.model.parameters())
        trainer.accelerator.print(
            f"lima-hf train: LoRA r={model_args.lora_r}{' on 4-bit weights' if model_args.load_in_4bit else ''}, "
            f"{trainable:,} of {total:,} parameters trainable; trained token rows: "
            f"{trainer.model.peft_config['default'].trainable_token_indices}"
        )
    facts = trainer.training_data_facts
    if facts:
        trainer.accelerator.print(
            f"lima-hf train: {facts['train_examples']} training examples; {facts['train_examples_eot_trimmed']} of "
            f"them lost their final end-of-turn token when trimmed to max_length={training_args.max_length}"
            + (" (no trimming)" if training_args.max_length is None else "")
        )
    if isinstance(resume, str) and resume.lower() in ("true", "last"):
        resume = _last_complete(training_args.output_dir, trainer)
    started = time.time()
    trainer.train(resume_from_checkpoint=resume)
    save_final_model(trainer, training_args.output_dir)
    trainer.save_state()  # trainer_state.json: steps, epochs and data facts for the model card
    trainer.create_model_card(model_name=Path(training_args.output_dir).name)
    if trainer.accelerator.is_main_process:
        _umask_modes(Path(training_args.output_dir), started)
    if model_args.use_peft:
        trainer.accelerator.print(
            f"lima-hf train: adapter saved to {training_args.output_dir} (merge it into a full model with "
            f"`lima-hf merge {training_args.output_dir} --output_dir MERGED`)"
        )
    else:
        trainer.accelerator.print(f"lima-hf train: model saved to {training_args.output_dir}")
    if training_args.push_to_hub:
        trainer.push_to_hub()
    trainer.end()
    return Path(training_args.output_dir)


def train(dataset_name: str, output_dir: str, model_name_or_path: str = BUNDLED, **overrides: Any) -> Path:
    """Fine-tune ``model_name_or_path`` on ``dataset_name`` with LIMA's settings; returns the saved model folder.

    ``overrides`` set any field of ``LimaScriptArguments``, ``LimaSFTConfig`` or ``trl.ModelConfig`` by name,
    e.g. a short CPU run of the bundled model::

        train("lima-data", "lima-model", max_steps=30, use_cpu=True, bf16=False,
              per_device_train_batch_size=4, effective_batch_size=8, residual_dropout=0.2)
    """
    from trl import ModelConfig

    from lima_hf.training.config import LimaSFTConfig

    values = {"dataset_name": str(dataset_name), "output_dir": str(output_dir),
              "model_name_or_path": str(model_name_or_path), **overrides}
    classes = (LimaScriptArguments, LimaSFTConfig, ModelConfig)
    names = [{f.name for f in dataclasses.fields(cls) if f.init} for cls in classes]
    unknown = set(values).difference(*names)
    if unknown:
        raise TypeError(f"train() got unknown options: {', '.join(sorted(unknown))}")
    instances = [cls(**{key: values.pop(key) for key in list(values) if key in known}) for cls, known in zip(classes, names)]
    return run(*instances)
