"""LoRA and QLoRA with LIMA's end-of-turn token: which rows train, how the adapter is saved, loaded and merged.

LoRA freezes the embeddings and the output layer, yet the new ``<|eot|>`` row must be trained or the model
never learns to stop. :func:`train_new_token_rows` makes exactly those rows trainable with PEFT's
``trainable_token_indices`` (the input row; the output row too when the embeddings are not tied): a few
thousand parameters, saved in the adapter as one small tensor per layer. The alternative,
``modules_to_save=["embed_tokens", "lm_head"]``, trains and saves full copies of both matrices (and unties
tied ones); ``benchmarks/bench_lora.py`` compares the two.

An adapter folder written by ``lima-hf train`` holds the adapter, the tokenizer (with ``<|eot|>`` and the chat
template) and ``generation_config.json`` (which stops at ``<|eot|>``), but not the base model's embedding rows:
load it on a base resized to the tokenizer (:func:`load_adapter`, or ``peft.AutoPeftModelForCausalLM``, which
resizes by itself). :func:`merge_adapter` writes a plain ``transformers`` model.
"""

from __future__ import annotations

import os
from pathlib import Path

from lima_hf._optional import require

PEFT_INSTALL = 'pip install "lima-hf[peft]"'
QLORA_INSTALL = 'pip install "lima-hf[qlora]"'
ADAPTER_CONFIG = "adapter_config.json"


def is_adapter_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a PEFT adapter (``adapter_config.json``) rather than a full model."""
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def _module_name(model, module) -> str | None:
    for name, candidate in model.named_modules():
        if candidate is module:
            return name.rsplit(".", 1)[-1]
    return None


def train_new_token_rows(peft_config, model, token_ids: list[int]):
    """Make the embedding rows of ``token_ids`` trainable under ``peft_config`` (a ``LoraConfig``); returns it.

    Sets ``trainable_token_indices`` for the input embeddings and, when the output layer is not tied to them,
    for the output layer too (with tied embeddings PEFT keeps the output row tied to the input row). Rows the
    user already made trainable (``modules_to_save`` naming the layer, or their own ``trainable_token_indices``
    entry) are left as configured.
    """
    if not token_ids or not hasattr(peft_config, "trainable_token_indices"):
        return peft_config
    layers = [model.get_input_embeddings()]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not layers[0].weight:
        layers.append(output)
    indices = peft_config.trainable_token_indices
    if isinstance(indices, list):  # a bare list targets the input embeddings
        indices = {_module_name(model, layers[0]): indices}
    indices = dict(indices or {})
    saved_whole = set(peft_config.modules_to_save or ())
    for layer in layers:
        name = _module_name(model, layer)
        if name is None or name in saved_whole:
            continue
        indices[name] = sorted(set(indices.get(name, [])) | set(token_ids))
    peft_config.trainable_token_indices = indices or None
    return peft_config


def prepare_adapter_model(model) -> None:
    """Adjust a ``PeftModel`` built with :func:`train_new_token_rows` for TRL's training and for saving.

    - TRL's fused LM head reads ``lm_head.weight`` and ``lm_head.bias``; PEFT's ``TrainableTokensWrapper``
      answers ``weight`` (with the trained rows) but raises on ``bias``, so it gets the wrapped layer's bias
      (set with ``object.__setattr__``, so that it is not registered as a second parameter);
    - PEFT saves the whole embedding matrices with the adapter when it sees that they were resized; with the
      new rows in ``trainable_token_indices`` they are not needed (the base is resized when loading), so the
      adapter is saved with ``save_embedding_layers=False``.
    """
    import functools

    from peft.utils.other import TrainableTokensWrapper

    for module in model.modules():
        if isinstance(module, TrainableTokensWrapper) and "bias" not in module.__dict__:
            object.__setattr__(module, "bias", getattr(module.token_adapter.base_layer, "bias", None))
    if any(getattr(config, "trainable_token_indices", None) for config in model.peft_config.values()):
        model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False)


def check_quantization(model_args) -> None:
    """Clear errors for 4-/8-bit loading: bitsandbytes must be installed, and quantized weights need LoRA."""
    if not (getattr(model_args, "load_in_4bit", False) or getattr(model_args, "load_in_8bit", False)):
        return
    require("bitsandbytes", QLORA_INSTALL, "QLoRA (load_in_4bit / load_in_8bit)")
    if not model_args.use_peft:
        from lima_hf.errors import ConfigError

        raise ConfigError(
            "load_in_4bit / load_in_8bit freeze the base weights in a quantized format that cannot be fine-tuned "
            "directly: set use_peft: true (QLoRA trains LoRA adapters on top of them)"
        )


def load_adapter(adapter_dir: str | os.PathLike, base_model: str | os.PathLike | None = None, **model_kwargs):
    """Load an adapter folder written by ``lima-hf train`` on its base model; returns ``(PeftModel, tokenizer)``.

    What a user of plain ``transformers`` + ``peft`` does by hand: load the base model (``base_model``, default
    the adapter's ``base_model_name_or_path``), resize its embeddings to the adapter's tokenizer (which adds
    ``<|eot|>``; the adapter supplies the trained rows), load the adapter, and take the adapter's generation
    config so that ``generate`` stops at ``<|eot|>``.
    """
    peft = require("peft", PEFT_INSTALL, "loading a LoRA adapter")
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    adapter_dir = Path(adapter_dir)
    config = peft.PeftConfig.from_pretrained(adapter_dir)
    base_model = base_model or config.base_model_name_or_path
    if not base_model:
        from lima_hf.errors import ConfigError

        raise ConfigError(f"{adapter_dir}/{ADAPTER_CONFIG} names no base model: pass the base model explicitly")
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    model = AutoModelForCausalLM.from_pretrained(base_model, **model_kwargs)
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    if (adapter_dir / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(adapter_dir)
    return peft.PeftModel.from_pretrained(model, adapter_dir), tokenizer


def merge_adapter(
    adapter_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    base_model: str | os.PathLike | None = None,
    dtype: str = "auto",
) -> Path:
    """Merge an adapter into its base model and save a plain ``transformers`` model folder; returns it.

    The base is loaded unquantized (``dtype``, default as saved) even for a QLoRA adapter: merging into 4-bit
    weights would round the update away. ``output_dir`` follows lima-hf's output policy
    (:func:`lima_hf.io.atomic_folder`: new, empty or an earlier lima-hf output). The folder gets the merged
    weights, the adapter's tokenizer (with ``<|eot|>`` and the chat template) and its generation config
    (stopping at ``<|eot|>``).
    """
    from lima_hf.io import atomic_folder, check_output_not_input

    check_output_not_input(output_dir, [adapter_dir, base_model], inside=True)
    model, tokenizer = load_adapter(adapter_dir, base_model, dtype=dtype)
    merged = model.merge_and_unload()
    with atomic_folder(output_dir) as staging:  # lima-hf's output policy: staged, swapped in, never over foreign files
        merged.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return Path(output_dir)
