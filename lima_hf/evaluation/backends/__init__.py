"""Generation backends: what turns conversations into answers for :func:`~lima_hf.evaluation.generation.generate_responses`.

A backend answers a batch of conversations (each ending with a user turn) in LIMA's sampling protocol and
says what it is (:meth:`GenerationBackend.fingerprint`, stored in every record's ``produced_by``). The driver
in :mod:`lima_hf.evaluation.generation` does the rest (resume, batching, multi-turn, records), so both backends
write the same records:

- ``transformers``: ``model.generate``'s loop on left-padded batches that shrink as answers end (:mod:`.transformers_backend`);
- ``vllm``: ``vllm.LLM.generate``, tensor parallel, paged attention (:mod:`.vllm_backend`, the ``vllm`` extra).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any, get_args, get_type_hints

from lima_hf.registry import Registry


@dataclass
class Answer:
    """One generated answer: its text, why it ended (``"eos"``/``"length"``), the end token's text (``None``
    at the token limit) and how many tokens were generated (the end token included)."""

    text: str
    finish_reason: str
    stop_token: str | None
    new_tokens: int


@dataclass
class BackendArguments:
    """Which backend generates, and the vLLM engine's options."""

    backend: str = field(
        default="transformers",
        metadata={"help": "Generation backend: 'transformers' (generate's loop, answers leaving the batch as they end) or 'vllm' (the vllm extra)."},
    )
    tensor_parallel_size: int = field(default=1, metadata={"help": "vllm: GPUs the model is split over."})
    gpu_memory_utilization: float = field(
        default=0.9, metadata={"help": "vllm: fraction of GPU memory the engine may use (weights + KV cache)."}
    )
    max_model_len: int | None = field(
        default=None, metadata={"help": "vllm: longest prompt + answer in tokens (default: the model's)."}
    )
    enforce_eager: bool = field(
        default=False,
        metadata={"help": "vllm: run the model eagerly, without torch.compile and CUDA graphs (starts much faster, "
                  "generates slower; for short runs and CPUs)."},
    )

    def load(self, model_path: str | os.PathLike, *, tokenizer: str | os.PathLike | None = None,
             device: str | None = None, dtype: str = "auto") -> GenerationBackend:
        """This backend with the model at ``model_path`` loaded (``device``: transformers only)."""
        if self.backend == "vllm":
            return load_backend("vllm", model_path, tokenizer=tokenizer, dtype=dtype,
                                tensor_parallel_size=self.tensor_parallel_size,
                                gpu_memory_utilization=self.gpu_memory_utilization, max_model_len=self.max_model_len,
                                enforce_eager=self.enforce_eager)
        return load_backend(self.backend, model_path, tokenizer=tokenizer, device=device, dtype=dtype)

    @contextmanager
    def serve(self, model, tokenizer) -> Iterator[GenerationBackend]:
        """This backend answering with an already loaded transformers ``model`` and ``tokenizer``, as they are in
        memory (e.g. prepared by :func:`~lima_hf.chat.setup_eot_chat_format`, or with a URIAL chat template).
        ``transformers`` generates with them; another backend serves a copy of both saved to a temporary folder
        (removed on exit), and its records name ``model.name_or_path`` as the transformers backend's do. The
        backend is closed on exit."""
        if self.backend == "transformers":
            yield BACKENDS.get("transformers")(model, tokenizer)
            return
        with tempfile.TemporaryDirectory(prefix="lima-hf-serve-") as folder:
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
            backend = self.load(folder, dtype=str(model.dtype).removeprefix("torch."))
            backend.model_name = str(getattr(model, "name_or_path", None) or backend.model_name)
            try:
                yield backend
            finally:
                backend.close()


class GenerationBackend:
    """What the driver needs from a backend.

    Parameters:
        tokenizer (`PreTrainedTokenizerBase`):
            The model's tokenizer; its chat template renders the conversations.
        stop_ids (`list[int]`):
            Token ids that end an answer (the model's ``generation_config.eos_token_id``, e.g. ``<|eot|>``,
            and the tokenizer's end token).
        model_name (`str`):
            The model's name in the records (``model``).
    """

    name: str = ""
    default_batch_size: int = 8
    context_length: int | None = None  # the longest prompt + answer the model takes, in tokens (None: unknown)

    def __init__(self, tokenizer, stop_ids: list[int], model_name: str):
        if getattr(tokenizer, "chat_template", None) is None:
            from lima_hf.errors import InputError

            raise InputError(f"{model_name}: the tokenizer has no chat template (a base model?): fine-tune it with "
                             "lima-hf train, or give it LIMA's format with lima_hf.setup_eot_chat_format")
        self.tokenizer = tokenizer
        self.stop_ids = list(stop_ids)
        self.model_name = str(model_name)

    def prompt_ids(self, conversation: list[dict[str, str]]) -> list[int]:
        """The token ids of ``conversation`` rendered by the chat template, ready for the assistant's turn."""
        text = self.tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def answer(self, new_ids: list[int], stopped: bool) -> Answer:
        """The :class:`Answer` of the generated ids ``new_ids`` (ending with a stop id when ``stopped``)."""
        return Answer(
            text=self.tokenizer.decode(new_ids, skip_special_tokens=True).strip(),
            finish_reason="eos" if stopped else "length",
            stop_token=self.tokenizer.convert_ids_to_tokens(new_ids[-1]) if stopped else None,
            new_tokens=len(new_ids),
        )

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the model and the engine for resumable outputs (stored in ``produced_by``)."""
        raise NotImplementedError

    def generate(self, prompts: list[list[int]], config, seeds: list[int]) -> list[Answer]:
        """Answer the token-id ``prompts`` with the sampling ``config``, ``seeds[i]`` seeding prompt ``i``."""
        raise NotImplementedError

    def close(self) -> None:
        """Free the model (and stop the engine's processes); the backend is unusable afterwards."""


def _check(name: str, entry) -> None:
    if not (isinstance(entry, type) and issubclass(entry, GenerationBackend)):
        raise TypeError(f"generation backend {name!r} must be a GenerationBackend subclass, got {entry!r}")


BACKENDS: Registry[type[GenerationBackend]] = Registry(
    "generation backend",
    {
        "transformers": "lima_hf.evaluation.backends.transformers_backend:TransformersBackend",
        "vllm": "lima_hf.evaluation.backends.vllm_backend:VLLMBackend",
    },
    check=_check,
)


def stop_ids(generation_config, tokenizer) -> list[int]:
    """End-of-answer ids: the generation config's ``eos_token_id`` (one id or a list) and the tokenizer's."""
    configured = getattr(generation_config, "eos_token_id", None)
    ids = [i for i in (configured if isinstance(configured, list) else [configured]) if i is not None]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def add_backend_options(parser) -> None:
    """Add :class:`BackendArguments`' options (``--backend``, ``--tensor_parallel_size``, ...) to a launcher's
    ``argparse`` parser, unset unless given (:func:`given_backend_options` reads them back)."""
    hints = get_type_hints(BackendArguments)
    for option in fields(BackendArguments):
        kind = next(t for t in (get_args(hints[option.name]) or (hints[option.name],)) if t is not type(None))
        extra = {"choices": BACKENDS.names()} if option.name == "backend" else {}
        if kind is bool:  # --flag, --flag true, --flag false
            kind, extra = true_or_false, {"nargs": "?", "const": True, "metavar": "{true,false}"}
        parser.add_argument(f"--{option.name}", type=kind, default=None, help=option.metadata["help"], **extra)


def true_or_false(value: str) -> bool:
    """A launcher's boolean option value (true/false, yes/no, 1/0)."""
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise ValueError(value)  # argparse: "invalid true_or_false value: ..."


def given_backend_options(args) -> dict[str, Any]:
    """The :func:`add_backend_options` options given in the parsed ``args``, as ``{name: value}``."""
    return {option.name: getattr(args, option.name) for option in fields(BackendArguments)
            if getattr(args, option.name, None) is not None}


def load_backend(name: str, model_path: str | os.PathLike, **options) -> GenerationBackend:
    """The backend ``name`` (``"transformers"`` or ``"vllm"``) with the model at ``model_path`` loaded.

    ``options`` go to the backend's ``load``: ``tokenizer`` (a folder, when the model's has none), ``dtype``,
    ``device`` (transformers), ``tensor_parallel_size``/``gpu_memory_utilization``/``max_model_len``/
    ``enforce_eager`` (vllm; other ``vllm.LLM`` arguments too).
    """
    return BACKENDS.get(name).load(model_path, **options)
