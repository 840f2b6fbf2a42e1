"""Push a trained model or a built dataset to the Hugging Face Hub, with its card.

:func:`push_model` uploads a model folder written by ``lima-hf train`` (weights, config, tokenizer with the
EOT chat template) with a model card (:mod:`lima_hf.model_card`) that carries the Hub's metadata (base_model, datasets, license, tags,
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

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lima_hf.io import InputError
from lima_hf.model_card import (  # the card's public names, importable from lima_hf.hub as before
    ADAPTER_TAGS,
    BUNDLED_BASE_MODEL,
    CARD_TAG,
    MODEL_TAGS,
    base_model_id,
    build_model_card,
    chat_template,
    eval_results,
    format_rate,
    is_adapter,
    is_repo_id,
    write_model_card,
)
from lima_hf.redaction import redact, register_secret
from lima_hf.training.checkpoints import load_trainer_state, load_training_args

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
__all__ = [
    "ADAPTER_TAGS", "BUNDLED_BASE_MODEL", "CARD_TAG", "DATASET_ALLOW_PATTERNS", "DATASET_IGNORE_PATTERNS",
    "MODEL_ALLOW_PATTERNS", "MODEL_IGNORE_PATTERNS", "MODEL_TAGS", "HubPushError", "PushResult", "base_model_id",
    "build_model_card", "check_dataset_folder", "check_model_folder", "eval_results", "format_rate",
    "load_trainer_state", "load_training_args", "push_dataset", "push_model", "write_model_card",
]


class HubPushError(RuntimeError):
    """A push failed (network, permissions, server); the message says what happened and how to resume."""


@dataclass
class PushResult:
    """Where a push went: the repository URL and the commit that holds the files."""

    repo_url: str
    commit_url: str
    files: list[str]


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
    if is_adapter(folder):
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
    if chat_template(folder) is None:
        raise InputError(
            f"{folder}: the tokenizer has no chat template, so the model cannot chat with plain transformers; "
            "save it with lima_hf.setup_eot_chat_format (lima-hf train does)"
        )
    return folder


def check_dataset_folder(folder: str | os.PathLike) -> Path:
    """Check a dataset folder before a push: its card's ``configs`` name files that exist
    (:func:`lima_hf.data.dataset_folder.dataset_folder_configs`) and its YAML names a ``license``."""
    from lima_hf.data.dataset_folder import dataset_folder_configs, read_card

    folder = _require_folder(folder)
    dataset_folder_configs(folder)
    if not read_card(folder).data.to_dict().get("license"):
        raise InputError(f"{folder / 'README.md'}: the card's YAML has no 'license'")
    return folder


def _resolve_token(token: str | None) -> str:
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise HubPushError(
            "no Hugging Face token found: run `hf auth login`, or set the HF_TOKEN environment variable "
            "to a token with write access"
        )
    return token


def _check_repo_id(repo_id: str) -> None:
    if not isinstance(repo_id, str) or not is_repo_id(repo_id):
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
