"""``LimaSFTTrainer``: TRL's ``SFTTrainer`` with LIMA's chat format, residual dropout and learning-rate floor."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from typing import ClassVar

import torch
from accelerate.utils import is_peft_model
from torch.optim.lr_scheduler import LambdaLR
from transformers import AutoTokenizer, PreTrainedTokenizerBase, TrainerCallback, TrainingArguments
from transformers.trainer_callback import ExportableState
from trl import SFTTrainer
from trl.trainer.utils import create_model_from_path, get_config_model_id

from lima_hf.chat import setup_eot_chat_format
from lima_hf.training.checkpoints import save_training_args
from lima_hf.training.config import LimaSFTConfig
from lima_hf.training.lora import prepare_adapter_model, train_new_token_rows
from lima_hf.training.residual_dropout import apply_residual_dropout

logger = logging.getLogger(__name__)


def _floor_lambda(step: int, *, num_warmup_steps: int, num_training_steps: int, final_ratio: float) -> float:
    if step < num_warmup_steps:
        return step / max(1, num_warmup_steps)
    decay_steps = num_training_steps - 1 - num_warmup_steps
    if decay_steps <= 0:
        return 1.0
    progress = min(1.0, (step - num_warmup_steps) / decay_steps)
    return 1.0 - (1.0 - final_ratio) * progress


def linear_schedule_with_floor(optimizer, num_warmup_steps: int, num_training_steps: int, final_ratio: float):
    """Linear warmup from 0 (if any), then linear decay that reaches ``final_ratio`` x the initial learning rate
    exactly at the last optimizer step (step ``num_training_steps - 1``), instead of 0 one step later.

    Kept beside transformers' ``get_wsd_schedule`` (linear decay, ``min_lr_ratio``), which gives the same
    rates without warmup but starts a warmup at the floor instead of 0 and needs the step count up front."""
    return LambdaLR(
        optimizer,
        functools.partial(
            _floor_lambda,
            num_warmup_steps=num_warmup_steps,
            num_training_steps=num_training_steps,
            final_ratio=final_ratio,
        ),
    )


def lima_config_from(args: TrainingArguments) -> LimaSFTConfig:
    """A :class:`LimaSFTConfig` with every value of ``args`` (a plain ``SFTConfig`` or ``TrainingArguments``).

    Values are copied field by field, not through ``to_dict()``, which masks ``hub_token``, ``eos_token`` and
    ``pad_token``; the caller's ``gradient_accumulation_steps`` is kept (``effective_batch_size`` is null).
    Fields ``args`` does not have take :class:`LimaSFTConfig`'s documented defaults, and the log names them.
    """
    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(args) if field.init}
    values["effective_batch_size"] = None
    config = LimaSFTConfig(**values)
    defaulted = [field.name for field in dataclasses.fields(LimaSFTConfig) if field.init and field.name not in values]
    logger.info(
        "LimaSFTTrainer got a %s; these settings take LimaSFTConfig's (LIMA's) defaults: %s",
        type(args).__name__,
        ", ".join(f"{name}={getattr(config, name)!r}" for name in defaulted),
    )
    return config


def freeze_embeddings(model) -> None:
    """Stop training the input embeddings of ``model`` and its output layer (the same matrix when tied)."""
    for layer in (model.get_input_embeddings(), model.get_output_embeddings()):
        if layer is not None:
            layer.weight.requires_grad_(False)


def count_trimmed_eot(input_ids, max_length: int | None, eot_id: int) -> int:
    """How many tokenised training texts lost their final end-of-turn token to trimming at ``max_length``.

    Every LIMA-format conversation ends with the EOT, so a text of ``max_length`` tokens that does not end
    with it was cut, and a longer one (TRL releases that trim in the collator, e.g. 1.7) will be."""
    if max_length is None:
        return 0
    return sum(1 for ids in input_ids if len(ids) > max_length or (len(ids) == max_length and ids[-1] != eot_id))


class TrainingDataFacts(TrainerCallback, ExportableState):
    """The training data's facts (examples used, EOTs trimmed), kept in ``trainer_state.json`` under
    ``stateful_callbacks`` (transformers' place for callback state), where the model card reads them."""

    def __init__(self, train_examples: int, train_examples_eot_trimmed: int):
        self.train_examples = train_examples
        self.train_examples_eot_trimmed = train_examples_eot_trimmed

    def state(self) -> dict:
        return {"args": {"train_examples": self.train_examples,
                         "train_examples_eot_trimmed": self.train_examples_eot_trimmed}, "attributes": {}}


class LimaSFTTrainer(SFTTrainer):
    """``SFTTrainer`` set up as in LIMA (Zhou et al. 2023).

    Before TRL prepares the data, it gives the model and tokenizer LIMA's end-of-turn chat format
    (:func:`lima_hf.chat.setup_eot_chat_format` with ``args.eot_token`` and ``args.eot_init``) and patches residual dropout into the
    model (:func:`lima_hf.training.residual_dropout.apply_residual_dropout` with ``args.residual_dropout``);
    with ``lr_scheduler_type="linear"`` the learning rate decays to ``args.final_learning_rate``, not 0. Saved
    models are plain ``transformers`` models (the dropout hooks are not part of them) whose model card cites
    LIMA. Takes the same arguments as ``SFTTrainer``; ``model`` may be a path or Hub id, and ``args`` a
    :class:`LimaSFTConfig`, a plain ``SFTConfig`` or ``TrainingArguments`` (see :func:`lima_config_from`).
    """

    _tag_names: ClassVar[list[str]] = ["trl", "sft", "lima"]

    def __init__(self, model, args: LimaSFTConfig | TrainingArguments | None = None, *more, **kwargs):
        if more:
            raise TypeError("LimaSFTTrainer takes `model` and `args` positionally; pass the other arguments by name")
        if args is None:
            model_name = model if isinstance(model, str) else get_config_model_id(model.config)
            args = LimaSFTConfig(f"{str(model_name).rstrip('/').split('/')[-1]}-LIMA")
        elif not isinstance(args, LimaSFTConfig):
            args = lima_config_from(args)

        if isinstance(model, str):
            init_kwargs = dict(args.model_init_kwargs or {})
            quantization_config = kwargs.pop("quantization_config", None)
            if quantization_config is not None:
                init_kwargs["quantization_config"] = quantization_config
            if args.distributed_state.distributed_type in ("MULTI_GPU", "DEEPSPEED"):
                init_kwargs["device_map"] = None  # distributed training places the model itself
            if quantization_config is not None:  # quantized weights are placed when loading: one device per process
                init_kwargs["device_map"] = {"": "cpu" if args.use_cpu or not torch.cuda.is_available()
                                             else args.distributed_state.local_process_index}
            init_kwargs.setdefault("trust_remote_code", args.trust_remote_code)
            model = create_model_from_path(model, **init_kwargs)
            args.model_init_kwargs = None

        tokenizer = kwargs.pop("processing_class", None)
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(
                get_config_model_id(model.config), trust_remote_code=args.trust_remote_code
            )
        if not isinstance(tokenizer, PreTrainedTokenizerBase):
            raise TypeError(f"LimaSFTTrainer trains text models: processing_class must be a tokenizer, got {type(tokenizer).__name__}")
        vocab_before = len(tokenizer)
        model, tokenizer = setup_eot_chat_format(model, tokenizer, eot_token=args.eot_token, eot_init=args.eot_init)
        if kwargs.get("peft_config") is not None:  # LoRA freezes the embeddings: train the EOT's (and new tokens') rows
            new_ids = [tokenizer.convert_tokens_to_ids(args.eot_token), *range(vocab_before, len(tokenizer))]
            train_new_token_rows(kwargs["peft_config"], model, new_ids)
        elif not args.train_embeddings:
            freeze_embeddings(model)
        apply_residual_dropout(model, args.residual_dropout, args.residual_dropout_schedule)
        super().__init__(model, args=args, processing_class=tokenizer, **kwargs)
        if is_peft_model(self.model):
            prepare_adapter_model(self.model)
        self.training_data_facts = self._training_data_facts()
        if self.training_data_facts:
            self.add_callback(TrainingDataFacts(**self.training_data_facts))

    def _save(self, output_dir: str | None = None, state_dict=None):
        """The Trainer's save, plus the training arguments as JSON (``training_args.json``, tokens masked: what
        the card and ``lima-hf push`` read, never the pickled ``training_args.bin``); an adapter folder also gets
        the generation config that stops at the EOT."""
        super()._save(output_dir, state_dict)
        if self.args.should_save:
            save_training_args(self.args, output_dir or self.args.output_dir)
        if is_peft_model(self.model) and self.args.should_save:
            self.model.get_base_model().generation_config.save_pretrained(output_dir or self.args.output_dir)

    def _training_data_facts(self) -> dict:
        """``{"train_examples": ..., "train_examples_eot_trimmed": ...}`` of the prepared training split
        (``{}`` for streamed or packed data, whose texts are not counted one by one); logs a warning when
        trimming at ``max_length`` removed the final EOT of some texts (the model then learns less to stop)."""
        dataset = self.train_dataset
        if dataset is None or self.args.packing or not hasattr(dataset, "column_names") or "input_ids" not in dataset.column_names:
            return {}
        eot_id = self.processing_class.convert_tokens_to_ids(self.args.eot_token)
        trimmed = count_trimmed_eot(dataset["input_ids"], self.args.max_length, eot_id)
        if trimmed:
            logger.warning(
                "%d of %d training texts are longer than max_length=%d tokens and lose their final end-of-turn "
                "token when trimmed (the paper's trimming); raise max_length to keep it",
                trimmed, len(dataset), self.args.max_length,
            )
        return {"train_examples": len(dataset), "train_examples_eot_trimmed": trimmed}

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        """Write LIMA's model card (:func:`lima_hf.model_card.build_model_card`) to ``output_dir/README.md``: the Hub
        metadata, the training hyper-parameters and how to chat with plain ``transformers``. The Trainer calls
        this at each checkpoint and before ``push_to_hub``, so a recipe's ``push_to_hub: true`` publishes it."""
        if not self.is_world_process_zero():
            return
        from lima_hf.model_card import base_model_id, build_model_card

        card = build_model_card(
            self.args.output_dir,
            self.args.hub_model_id or model_name or os.path.basename(os.path.abspath(self.args.output_dir)),
            base_model=base_model_id(get_config_model_id(self.model.config)),
            datasets=[dataset_name] if dataset_name and not os.path.exists(dataset_name) else (),
            tags=[tags] if isinstance(tags, str) else list(tags or ()),
            training_args=self.args.to_dict(),
            adapter=is_peft_model(self.model),
            trainer_state=dataclasses.asdict(self.state),
        )
        card.save(os.path.join(self.args.output_dir, "README.md"))

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """Transformers' schedules, except ``linear`` with a ``final_learning_rate`` floor (LIMA's 1e-5 -> 1e-6)."""
        if self.lr_scheduler is None and self.args.lr_scheduler_type == "linear" and self.args.final_learning_rate is not None:
            self.lr_scheduler = linear_schedule_with_floor(
                optimizer if optimizer is not None else self.optimizer,
                num_warmup_steps=self.args.get_warmup_steps(num_training_steps),
                num_training_steps=num_training_steps,
                final_ratio=self.args.final_learning_rate / self.args.learning_rate if self.args.learning_rate else 1.0,
            )
            self._created_lr_scheduler = True
        return super().create_scheduler(num_training_steps, optimizer)
