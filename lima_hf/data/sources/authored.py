"""Examples that people write: training pairs, validation (dev) pairs, test prompts and multi-turn dialogues.

Format (JSONL, one example per line, or YAML, a list of examples or a mapping with file-level defaults
and an ``examples:`` list)::

    - id: refuse-lockpicking          # unique within the input; default <file stem>-<n>
      split: train                    # train | validation | test | multi_turn (dev: old name of validation)
      prompt: How do I pick my neighbour's lock?
      response: I can't help with getting into someone else's home ...
      tags: [refusal]                 # optional; "refusal" marks a refusal of a harmful request
      author: LIMA-HF authors         # optional attribution (defaults from the file level)
      license: CC BY 4.0

    - id: dialogue-haiku
      split: multi_turn
      messages:                       # instead of prompt/response: alternating turns, user first
        - {role: user, content: Write a haiku about rain.}
        - {role: assistant, content: ...}
        - {role: user, content: Now one about snow.}
        - {role: assistant, content: ...}

A YAML file may set ``split``, ``author`` and ``license`` once at the top (``{split: validation, examples: [...]}``).
Rules: train/validation examples are one prompt and one response; test examples are a prompt only; multi-turn
dialogues alternate user/assistant, start with the user, end with the assistant and have at least two
exchanges; no turn may be empty; ids are unique. Every violation names the file and line.

Training and validation pairs and test prompts become ``records`` (``category`` = the split); dialogues go to
``extras["multi_turn"]``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lima_hf.data.executors import ExecutorConfig, per_file
from lima_hf.data.records import VALIDATION_SPLIT, SourceResult, make_record, split_name
from lima_hf.data.sources.bad_input import jsonl_objects, raise_or_skip
from lima_hf.data.sources.base import CardEntry, SourceConfig
from lima_hf.io import InputError, read_yaml

NAME = "authored"
LABELS = {
    NAME: CardEntry(
        title="Authored examples",
        rules="Written by people in the documented authored-examples format; validated (alternating, non-empty "
        "turns); some training examples refuse harmful requests and explain why.",
        license="As each row's `license` states",
        attribution="The authors named in each row's `author`.",
    )
}
SPLITS = ("train", "validation", "test", "multi_turn")  # `dev`, the old name of validation, is read too
SUFFIXES = (".jsonl", ".yaml", ".yml")


@dataclass
class Config(ExecutorConfig, SourceConfig):
    """Options of the authored-examples reader. ``input``: a ``.jsonl``/``.yaml`` file or a folder of them."""

    default_author: str = field(
        default="lima-hf contributors", metadata={"help": "Author when an example and its file name none."}
    )
    default_license: str = field(
        default="CC BY 4.0", metadata={"help": "License when an example and its file name none."}
    )


def input_files(path: Path) -> list[Path]:
    """The authored files at ``path`` (a file, or every .jsonl/.yaml/.yml below a folder, sorted)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"{path}: no .jsonl, .yaml or .yml files with authored examples")
        return files
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.suffix not in SUFFIXES:
        raise InputError(f"{path}: authored examples must be .jsonl, .yaml or .yml")
    return [path]


def _yaml_items(path: Path) -> Iterator[tuple[int, Any, dict]]:
    data, node = read_yaml(path, "authored examples file")
    defaults: dict = {}
    items_node = node
    if isinstance(data, dict):
        defaults = {k: v for k, v in data.items() if k != "examples"}
        if "examples" not in data:
            raise InputError(f"{path}:1: a YAML mapping needs an 'examples:' list")
        items_node = next(v for k, v in node.value if k.value == "examples")
        data = data["examples"]
    if data is None:
        return
    if not isinstance(data, list):
        raise InputError(f"{path}:1: expected a list of examples")
    for item, item_node in zip(data, items_node.value):
        yield item_node.start_mark.line + 1, item, defaults


def _items(path: Path, config: Config, rejections: list[dict]) -> Iterator[tuple[int, Any, dict]]:
    if path.suffix == ".jsonl":  # a malformed line is one skipped example, not the whole file
        for line, obj in jsonl_objects(path, on_error=config.on_error, rejections=rejections, source=NAME):
            yield line, obj, {}
    else:
        yield from _yaml_items(path)


def _messages(item: dict, split: str, where: str) -> list[dict[str, str]]:
    if "messages" in item:
        messages = item["messages"]
        if not isinstance(messages, list) or not messages:
            raise InputError(f"{where}: 'messages' must be a non-empty list")
        if all(isinstance(m, str) for m in messages):
            messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": m} for i, m in enumerate(messages)]
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or set(m) != {"role", "content"}:
                raise InputError(f"{where}: message {i + 1} must be a mapping with exactly 'role' and 'content'")
    else:
        if "prompt" not in item:
            raise InputError(f"{where}: an example needs 'prompt' (and 'response') or 'messages'")
        messages = [{"role": "user", "content": item["prompt"]}]
        if item.get("response") is not None:
            messages.append({"role": "assistant", "content": item["response"]})
    for i, m in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if m["role"] != expected:
            raise InputError(
                f"{where}: turns must alternate user/assistant starting with the user; "
                f"message {i + 1} is '{m['role']}', expected '{expected}'"
            )
        if not isinstance(m["content"], str) or not m["content"].strip():
            raise InputError(f"{where}: message {i + 1} ({m['role']}) is empty")
    if split == "test" and len(messages) != 1:
        raise InputError(f"{where}: a test example is a prompt only (no response)")
    if split in ("train", VALIDATION_SPLIT) and len(messages) != 2:
        raise InputError(
            f"{where}: a {split} example is one prompt and one response "
            f"(got {len(messages)} turns; use split: multi_turn for dialogues)"
        )
    if split == "multi_turn" and (len(messages) < 4 or len(messages) % 2):
        raise InputError(
            f"{where}: a multi-turn dialogue needs at least two user/assistant exchanges "
            f"and must end with the assistant (got {len(messages)} turns)"
        )
    return [{"role": m["role"], "content": m["content"].strip()} for m in messages]


def parse_example(item: Any, defaults: dict, *, path: Path, line: int, index: int, config: Config) -> dict:
    """Validate one authored example and return its record; errors name ``path:line``."""
    where = f"{path}:{line}"
    if not isinstance(item, dict):
        raise InputError(f"{where}: an example must be a mapping")
    known = {"id", "split", "prompt", "response", "messages", "tags", "author", "license", "url", "notes"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(known))})")
    split = item.get("split", defaults.get("split"))
    if isinstance(split, str):
        split = split_name(split, str(path))
    if split not in SPLITS:
        raise InputError(f"{where}: 'split' must be one of {', '.join(SPLITS)} (got {split!r})")
    messages = _messages(item, split, where)
    tags = item.get("tags") or []
    if not isinstance(tags, list):
        raise InputError(f"{where}: 'tags' must be a list")
    example_id = str(item.get("id") or f"{path.stem}-{index}")
    return make_record(
        id=f"authored/{example_id}",
        source=NAME,
        messages=messages,
        category=split,
        url=item.get("url", defaults.get("url")),
        author=item.get("author", defaults.get("author", config.default_author)),
        license=item.get("license", defaults.get("license", config.default_license)),
        source_id=example_id,
        metadata={
            "file": path.name,
            "line": line,
            "tags": [str(t) for t in tags],
            "refusal": "refusal" in tags,
            **({"notes": item["notes"]} if item.get("notes") else {}),
        },
    )


def file_examples(path: Path, config: Config) -> dict:
    """Stage 1 on one authored file: ``events`` in file order, ``["record", line, record]`` for each valid
    example and ``["error", id, message]`` for a malformed line, example or file, which the global step raises
    or logs in order with the duplicate ids it finds across files."""
    malformed: list[dict] = []
    try:
        items = list(_items(path, dataclasses.replace(config, on_error="skip"), malformed))
    except InputError as err:
        return {"events": [["error", str(path), str(err)]]}
    events: list[list] = [["error", rejection["id"], rejection["detail"]] for rejection in malformed]
    for index, (line, item, defaults) in enumerate(items, start=1):
        try:
            events.append(["record", line, parse_example(item, defaults, path=path, line=line, index=index,
                                                         config=config)])
        except InputError as err:
            events.append(["error", f"{path.name}:{line}", str(err)])
    return {"events": events}


def _counts(result: dict) -> dict[str, int]:
    """A task's numbers for datatrove's stats: examples read, malformed ones."""
    return dict(Counter("examples" if event[0] == "record" else "malformed" for event in result["events"]))


def curate(config: Config) -> SourceResult:
    """Read and validate every authored example; records = train/validation/test, ``extras["multi_turn"]`` = dialogues.

    Stage 1 validates each file (:func:`file_examples`, on the executor of ``--executor``); the global step
    checks that ids are unique across files and raises or logs (``on_error``) every error in file order."""
    if not config.input:
        raise InputError("authored: --input (a .jsonl/.yaml file or a folder of them) is required")
    result = SourceResult(extras={"multi_turn": []})
    seen: dict[str, str] = {}
    files = input_files(Path(config.input))
    for path, read in zip(files, per_file("authored file", file_examples, files, config, key={"version": 1},
                                          counts=_counts)):
        for event in read["events"]:
            if event[0] == "error":
                raise_or_skip(InputError(event[2]), on_error=config.on_error, rejections=result.rejections,
                              source=NAME, id=event[1])
                continue
            _, line, record = event
            if record["id"] in seen:
                first = seen[record["id"]]
                error = InputError(f"{path}:{line}: duplicate id '{record['source_id']}' (first at {first})")
                raise_or_skip(error, on_error=config.on_error, rejections=result.rejections, source=NAME,
                              id=f"{path.name}:{line}")
                continue
            seen[record["id"]] = f"{path}:{line}"
            (result.extras["multi_turn"] if record["category"] == "multi_turn" else result.records).append(record)
    return result
