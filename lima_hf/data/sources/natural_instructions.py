"""Super-NaturalInstructions: one example from each of N natural-language-generation training tasks.

Input: the ``natural-instructions`` repository layout (``tasks/*.json`` and ``splits/default/train_tasks.txt``),
or a ``tasks`` folder or a single task file. Both task-file formats are read:

- current: ``Definition`` is a list of strings, ``Categories`` a flat list (``["Paraphrasing"]``),
  ``Instances`` ``[{"id", "input", "output": [...]}]``, ``Instance License`` a list;
- older: ``Definition`` a string, ``Categories`` hierarchical (``"Text Modification -> Paraphrasing"``),
  instance ``output`` a string or list, instance ``id`` possibly missing.

A task is eligible when it is in the training split (all tasks when the split file is absent: the log says
so), its category is a generation category (any level of a hierarchical one) and its language is English.
Tasks are ordered at random (``seed``); each contributes one instance drawn at random from its non-empty
ones, so the first N records are the paper's "one example from each of N tasks". Prompt = the definition,
a blank line, the instance input; response = the (first) instance output.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lima_hf.data.executors import ExecutorConfig, per_file
from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.rules import RuleChain, natural_instructions_rules, reject
from lima_hf.data.sources.bad_input import raise_or_skip
from lima_hf.data.sources.base import CardEntry, SourceConfig
from lima_hf.io import InputError

NAME = "natural_instructions"
LABELS = {
    NAME: CardEntry(
        title="Super-NaturalInstructions",
        rules="One random instance from each of N natural-language-generation tasks (summarization, "
        "paraphrasing, style transfer, ...) of the training split; prompt = the task definition and the "
        "input, response = the instance output.",
        license="Apache-2.0 (task files); instances under each task's Instance License (see `license`)",
        attribution="Wang et al. (2022), Super-NaturalInstructions; task contributors in each row's `author`.",
    )
}
logger = logging.getLogger(__name__)
REPO_URL = "https://github.com/allenai/natural-instructions/blob/master/tasks"

GENERATION_CATEGORIES = [
    "Summarization",
    "Paraphrasing",
    "Style Transfer",
    "Text Simplification",
    "Question Rewriting",
    "Sentence Compression",
    "Sentence Composition",
    "Sentence Expansion",
    "Title Generation",
    "Data to Text",
    "Question Generation",
    "Dialogue Generation",
    "Story Composition",
    "Text Completion",
    "Poem Generation",
    "Explanation",
    "Paper Review",
    "Code to Text",
    "Text Modification",
    "Text Composition",
]


@dataclass
class Config(ExecutorConfig, SourceConfig):
    """Options of the Super-NaturalInstructions source. ``input``: the repository folder, ``tasks/`` or a task file."""

    count: int | None = field(
        default=None, metadata={"help": "Number of tasks (one example each); all eligible when unset."}
    )
    categories: list[str] = field(
        default_factory=lambda: list(GENERATION_CATEGORIES),
        metadata={
            "help": "Task categories counted as natural-language generation (matched at any level, case-insensitive)."
        },
    )
    split_file: str = field(
        default="splits/default/train_tasks.txt",
        metadata={"help": "Task list of the training split, relative to the repository folder."},
    )
    english_only: bool = field(
        default=True, metadata={"help": "Keep only tasks whose input and output language is English."}
    )
    max_prompt_chars: int | None = field(
        default=8000, metadata={"help": "Skip instances whose prompt is longer than this."}
    )


@dataclass
class Task:
    """The parts of a task file this source uses."""

    name: str
    definition: str
    categories: list[str]
    instances: list[dict[str, Any]]
    license: str | None
    contributors: list[str]
    languages: set[str]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def parse_task(path: Path) -> Task:
    """Read a task file of either format; a missing or mistyped field raises :class:`InputError` naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from err
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: invalid UTF-8 ({err.reason})") from err
    if not isinstance(data, dict):
        raise InputError(f"{path}: a task file must be a JSON object")
    for key in ("Definition", "Instances"):
        if key not in data:
            raise InputError(f"{path}: missing field '{key}'")
    definition = data["Definition"]
    if isinstance(definition, list):
        definition = "\n".join(str(d) for d in definition)
    if not isinstance(definition, str) or not definition.strip():
        raise InputError(f"{path}: 'Definition' must be a non-empty string or list of strings")
    if not isinstance(data["Instances"], list):
        raise InputError(f"{path}: 'Instances' must be a list")
    instances = []
    for index, instance in enumerate(data["Instances"]):
        if not isinstance(instance, dict) or "input" not in instance or "output" not in instance:
            raise InputError(f"{path}: instance {index} needs 'input' and 'output'")
        outputs = [str(o) for o in _as_list(instance["output"]) if str(o).strip()]
        instances.append(
            {
                "id": str(instance.get("id") or f"{path.stem}-{index}"),
                "input": str(instance["input"]),
                "outputs": outputs,
            }
        )
    categories = []
    for category in _as_list(data.get("Categories")):
        categories.extend(level.strip() for level in str(category).split("->") if level.strip())
    languages = {str(x) for key in ("Input_language", "Output_language") for x in _as_list(data.get(key))}
    licenses = [str(x) for x in _as_list(data.get("Instance License"))]
    return Task(
        name=path.stem,
        definition=definition.strip(),
        categories=categories,
        instances=instances,
        license=", ".join(licenses) or None,
        contributors=[str(c) for c in _as_list(data.get("Contributors"))],
        languages=languages,
    )


def _layout(path: Path, split_file: str) -> tuple[list[Path], set[str] | None]:
    if path.is_file():
        return [path], None
    if not path.is_dir():
        raise InputError(f"{path}: file or folder not found")
    tasks_dir = path / "tasks" if (path / "tasks").is_dir() else path
    files = sorted(tasks_dir.glob("task*.json"))
    if not files:
        raise InputError(f"{tasks_dir}: no task*.json files")
    split_path = path / split_file
    if not split_path.is_file():
        logger.warning("natural-instructions: %s not found; every task counts as a training task", split_path)
        return files, None
    names = {line.strip() for line in split_path.read_text(encoding="utf-8").splitlines() if line.strip()}
    return files, names


def task_outcome(path: Path, config: Config) -> dict:
    """Stage 1 on one task file of the training split: ``{"rejection": ...}`` for a task that is malformed (when
    skipping; ``on_error="raise"`` raises) or fails a rule of :func:`~lima_hf.data.rules.natural_instructions_rules`
    (not a generation task, not in English), else ``{"task": name, "record": ...}`` with the record of the instance
    drawn for it, or with ``"record": None`` and the ``failure`` of the usable-instance rule."""
    task_id = f"natural_instructions/{path.stem}"
    rejections: list[dict] = []
    try:
        task = parse_task(path)
    except InputError as err:
        raise_or_skip(err, on_error=config.on_error, rejections=rejections, source=NAME, id=task_id)
        return {"rejection": rejections[0]}
    _, *task_rules, instance_rule = natural_instructions_rules(config, None)  # the split's rule ran in curate
    if not RuleChain(task_rules).screen(task, rejections=rejections, source=NAME, id=task_id):
        return {"rejection": rejections[0]}
    failure = instance_rule.check(task)
    if failure is not None:
        return {"task": task.name, "record": None, "failure": list(failure)}
    return {"task": task.name, "record": _record(task, instance_rule.usable(task), config)}


def _record(task: Task, instances: list[dict], config: Config) -> dict:
    """The record of one of ``instances`` (the usable ones of ``task``) drawn at random, seeded by the task."""
    instance = random.Random(f"{config.seed}:{task.name}").choice(instances)
    wanted = {c.lower() for c in config.categories}
    category = next((c for c in reversed(task.categories) if c.lower() in wanted), task.categories[-1])
    return make_record(
        id=f"natural_instructions/{task.name}/{instance['id']}",
        source=NAME,
        messages=[
            {"role": "user", "content": f"{task.definition}\n\n{instance['input'].strip()}"},
            {"role": "assistant", "content": instance["outputs"][0].strip()},
        ],
        category=category,
        url=f"{REPO_URL}/{task.name}.json",
        author=", ".join(task.contributors) or None,
        license=task.license or "Apache-2.0",
        source_id=instance["id"],
        metadata={"task": task.name, "categories": task.categories},
    )


def _counts(outcome: dict) -> dict[str, int]:
    """A task's numbers for datatrove's stats."""
    return {"rejected" if "rejection" in outcome else "kept": 1}


def curate(config: Config) -> SourceResult:
    """One random instance from each eligible generation task, tasks in random order.

    Stage 1 reads and screens each task file of the training split (:func:`task_outcome`, on the executor of
    ``--executor``); the global step shuffles the eligible tasks (``seed``) and takes their records until
    ``count``."""
    if not config.input:
        raise InputError("natural-instructions: --input (the natural-instructions folder or a task file) is required")
    files, train_tasks = _layout(Path(config.input), config.split_file)
    split = RuleChain(natural_instructions_rules(config, train_tasks)[:1])  # on the path: before reading the file
    result = SourceResult()
    in_split = [path for path in files if split.first_failure(path) is None]
    outcomes = per_file("Super-NI task", task_outcome, in_split, config, key={"version": 2}, counts=_counts)
    outcomes = iter(tqdm(outcomes, total=len(in_split), desc="natural-instructions tasks", unit=" tasks",
                         leave=False, disable=not config.progress))
    tasks: list[dict] = []
    for path in files:
        if not split.screen(path, rejections=result.rejections, source=NAME, id=f"natural_instructions/{path.stem}"):
            continue
        outcome = next(outcomes)
        if "rejection" in outcome:
            result.rejections.append(outcome["rejection"])
        else:
            tasks.append(outcome)
    random.Random(config.seed).shuffle(tasks)
    for task in tasks:
        if config.count is not None and len(result.records) >= config.count:
            break
        if task["record"] is None:
            reason, detail = task["failure"]
            reject(result.rejections, source=NAME, id=f"natural_instructions/{task['task']}", reason=reason,
                   detail=detail)
        else:
            result.records.append(task["record"])
    return result
