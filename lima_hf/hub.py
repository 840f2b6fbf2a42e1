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

import glob
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lima_hf.chat import load_tokenizer
from lima_hf.errors import InputError, LimaError
from lima_hf.io import read_json
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

# What is uploaded: regular files inside the folder whose *names* are on an allow-list of what lima-hf,
# transformers, peft and datasets write (weights as safetensors, configs, tokenizer files, chat templates, cards,
# and the data files a dataset card names). Everything else stays local: training_args.bin (a pickle that holds
# hub_token verbatim when a recipe set one; the card carries its hyperparameters instead), training_args.json,
# *.pkl, optimizer/scheduler/scaler states, RNG states, DeepSpeed shards, TensorBoard runs, notes, any stray JSON
# (credentials.json). Intermediate checkpoints and hidden files are excluded even when they hold allowed files.
# A symbolic link is followed only to a file inside the folder; one that leads outside is refused.
MODEL_ALLOW_PATTERNS = ("*.safetensors", "model.safetensors.index.json", "config.json", "generation_config.json",
                        "adapter_config.json", "tokenizer.json", "tokenizer_config.json", "tokenizer.model",
                        "special_tokens_map.json", "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt",
                        "chat_template.jinja", "chat_template.json", "README.md")
MODEL_IGNORE_PATTERNS = ("checkpoint-*", "checkpoint-*/**", "*/checkpoint-*/**", "runs/**", "**/*.tmp", ".*",
                         "**/.*", "*/.*", "global_step*/**")
DATASET_ALLOW_PATTERNS = ("README.md", "LICENSE.md", "build_summary.json", "*.png", "*.svg",
                          "dataset_info.json", "dataset_dict.json", "state.json", "data-*.arrow")
DATASET_IGNORE_PATTERNS = ("**/*.tmp", ".*", "**/.*", "*/.*")
__all__ = [
    "ADAPTER_TAGS", "BUNDLED_BASE_MODEL", "CARD_TAG", "DATASET_ALLOW_PATTERNS", "DATASET_IGNORE_PATTERNS",
    "MODEL_ALLOW_PATTERNS", "MODEL_IGNORE_PATTERNS", "MODEL_TAGS", "HubPushError", "PushResult", "base_model_id",
    "build_model_card", "check_dataset_folder", "check_model_folder", "eval_results", "format_rate",
    "load_trainer_state", "load_training_args", "push_dataset", "push_model", "write_model_card",
]


class HubPushError(LimaError, RuntimeError):
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
    tokenizer that loads and its chat template: every safetensors file is non-empty and readable, ``config.json``
    parses, and nothing uploaded is a link leading outside the folder (:func:`upload_files`)."""
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
    files = upload_files(folder, MODEL_ALLOW_PATTERNS, MODEL_IGNORE_PATTERNS)
    for name in files:
        if name.endswith(".json"):
            read_json(folder / name)  # malformed JSON: an InputError naming the file and line
        elif name.endswith(".safetensors"):
            _check_safetensors(folder / name)
    _check_shards(folder)
    load_tokenizer(folder)  # a tokenizer that does not load is an InputError naming what is missing
    if chat_template(folder) is None:
        raise InputError(
            f"{folder}: the tokenizer has no chat template, so the model cannot chat with plain transformers; "
            "save it with lima_hf.setup_eot_chat_format (lima-hf train does)"
        )
    return folder


def _check_safetensors(path: Path) -> None:
    """A safetensors file that is non-empty and whose header safetensors reads."""
    from safetensors import SafetensorError, safe_open

    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty weights file (0 bytes); was the save interrupted? Save the model again")
    try:
        with safe_open(str(path), framework="pt") as weights:
            if not list(weights.keys()):
                raise InputError(f"{path}: holds no tensors")
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"{path}: not a readable safetensors file ({' '.join(str(err).split())})") from err


def _check_shards(folder: Path) -> None:
    """Every shard a ``*.safetensors.index.json`` names is present."""
    for index in folder.glob("*.safetensors.index.json"):
        weight_map = (read_json(index) or {}).get("weight_map")
        if not isinstance(weight_map, dict):
            raise InputError(f"{index}: no 'weight_map'")
        missing = sorted(name for name in set(weight_map.values()) if not (folder / name).is_file())
        if missing:
            raise InputError(f"{index}: names weight shards that are missing ({', '.join(missing[:3])})")


def check_dataset_folder(folder: str | os.PathLike) -> Path:
    """Check a dataset folder before a push: its card parses, its ``configs`` name files that exist
    (:func:`lima_hf.data.dataset_folder.dataset_folder_configs`) and are readable Parquet, its YAML names a
    ``license``, and nothing uploaded is a link leading outside the folder."""
    from lima_hf.data.dataset_folder import read_card

    folder = _require_folder(folder)
    data_files = _card_data_files(folder)
    if not read_card(folder).data.to_dict().get("license"):
        raise InputError(f"{folder / 'README.md'}: the card's YAML has no 'license'")
    upload_files(folder, DATASET_ALLOW_PATTERNS, DATASET_IGNORE_PATTERNS, extra=data_files)
    import pyarrow.parquet as pq

    for name in data_files:
        if name.endswith(".parquet"):
            try:
                pq.read_metadata(folder / name)
            except (OSError, ValueError) as err:
                raise InputError(f"{folder / name}: not a readable Parquet file ({err})") from err
    return folder


def _card_data_files(folder: Path) -> list[str]:
    """The data files (relative paths) the dataset card's ``configs`` name."""
    from lima_hf.data.dataset_folder import dataset_folder_configs

    root = Path(os.path.abspath(folder))
    files = set()
    for splits in dataset_folder_configs(folder).values():
        for paths in splits.values():
            for path in (Path(os.path.abspath(p)) for p in paths):
                if root not in path.parents:
                    raise InputError(f"{folder / 'README.md'}: the card names {path}, outside the folder")
                files.add(path.relative_to(root).as_posix())
    return sorted(files)


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
    files: Sequence[str],
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
            allow_patterns=[glob.escape(name) for name in files],  # exactly the files checked, nothing else
        )
    except (HfHubHTTPError, httpx2.HTTPError, OSError, ValueError) as err:
        reason = redact(_describe(err))
        raise HubPushError(
            f"pushing {folder} to the {where} failed: {reason}. Nothing is lost: the local folder is "
            "unchanged, and files that reached the Hub are kept and skipped when you run the same push "
            "command again to resume."
        ) from err
    return PushResult(repo_url=str(repo_url), commit_url=commit.commit_url, files=list(files))


def _uploaded(relative: Path, allow: Sequence[str], ignore: Sequence[str]) -> bool:
    """Whether a file (path relative to the folder) has a name on the allow-list and its path is not excluded."""
    from fnmatch import fnmatchcase

    text = relative.as_posix()
    return any(fnmatchcase(relative.name, p) for p in allow) and not any(fnmatchcase(text, p) for p in ignore)


def upload_files(folder: str | os.PathLike, allow: Sequence[str], ignore: Sequence[str],
                 extra: Sequence[str] = ()) -> list[str]:
    """The files of ``folder`` a push uploads (relative POSIX paths): regular files on the allow-list (or named in
    ``extra``), not excluded. A symbolic link counts only when it leads to a regular file inside ``folder``; a link
    that would be uploaded (or a linked folder) leading outside, or an allowed name that is not a regular file,
    raises :class:`InputError` naming it."""
    folder = Path(folder)
    root = Path(os.path.realpath(folder))
    extra = set(extra)
    files = []
    for parent, dirs, names in os.walk(folder):  # never follows linked folders
        parent = Path(parent)
        for name in sorted(dirs):
            path = parent / name
            if path.is_symlink() and not _inside(path, root):
                raise InputError(f"{path}: a symbolic link to {os.path.realpath(path)}, outside the folder; refusing "
                                 "to upload it (copy what it holds into the folder, or remove the link)")
        for name in sorted(names):
            path = parent / name
            relative = path.relative_to(folder)
            if not (relative.as_posix() in extra or _uploaded(relative, allow, ignore)):
                continue
            if path.is_symlink() and not _inside(path, root):
                raise InputError(f"{path}: a symbolic link to {os.path.realpath(path)}, outside the folder; refusing "
                                 "to upload it (copy the file into the folder, or remove the link)")
            if not path.is_file():
                raise InputError(f"{path}: not a regular file; refusing to upload it")
            files.append(relative.as_posix())
    return sorted(files)


def _inside(path: Path, root: Path) -> bool:
    target = Path(os.path.realpath(path))
    return target == root or root in target.parents


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
    files = upload_files(folder, MODEL_ALLOW_PATTERNS, MODEL_IGNORE_PATTERNS)
    return _upload(folder, repo_id, "model", private=private, token=token, files=files,
                   commit_message=commit_message, revision=revision, endpoint=endpoint)


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
    files = upload_files(folder, DATASET_ALLOW_PATTERNS, DATASET_IGNORE_PATTERNS, extra=_card_data_files(folder))
    return _upload(folder, repo_id, "dataset", private=private, token=token, files=files,
                   commit_message=commit_message, revision=revision, endpoint=endpoint)
