"""What a judge is asked (:class:`JudgeTask`), what it answers (verdicts), and the two kinds of judge.

A protocol turns answers into a :class:`JudgeTask`: requests (a key, the filled-in judge instruction, the
fields a person reads), how to parse a reply, and the allowed answers. Every judge has a ``name`` and
``verdicts(task) -> {key: {"label", "reply", "attempts"}}``; ``label`` is ``None`` when the reply could not
be read (or a person has not labelled the item yet), so it is counted in the report, never guessed.

- :class:`ModelJudge` (the HTTP and local judges): subclasses implement ``complete(prompts, attempt,
  choices)``, yielding ``(index, reply)`` as replies arrive. :meth:`ModelJudge.verdicts` appends every reply
  to a JSONL cache (key, prompt hash, attempt, reply, label) the moment it arrives, so an interrupted run
  resumes where it stopped; a reply that does not parse is asked again (``task.retries`` times, judges sample
  on retries) and then recorded as unparsed. A cached reply is reused only for the same instruction text,
  and a cache made by another judge (its ``fingerprint``: model, endpoint, settings) is refused.
- people (:mod:`lima_hf.evaluation.judges.people`): labels from an annotation sheet or the annotation page;
  :class:`LabelsPending` when they are not in yet.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lima_hf.errors import LimaError


class JudgeUnavailableError(LimaError, RuntimeError):
    """The judge cannot answer (endpoint down, rate-limited past the retry budget, bad credentials)."""


class LabelsPending(Exception):
    """People have not labelled the items yet; the message says where the items wait and what to run next."""


@dataclass
class JudgeTask:
    """One batch of judgments a protocol needs (e.g. ours vs one baseline).

    ``requests`` are ``{"key", "prompt", "fields"}``: ``prompt`` is the filled-in instruction a model reads,
    ``fields`` what a person reads (``question``, ``answer`` or ``answer_a``/``answer_b``, ...), and an
    optional ``group``: requests of one group ask the same question in another order, so a person labels
    only one of them (chosen by a stable coin flip) while a model answers all.
    """

    protocol: str
    name: str
    requests: list[dict[str, Any]]
    parse: Callable[[str], Any]
    choices: Sequence[str]
    labels: Sequence[str]
    instructions: str
    folder: Path
    retries: int = 2
    label_help: str = ""
    cache_file: Path | None = None

    @property
    def cache_path(self) -> Path:
        """Where a model judge's replies are kept: ``cache_file``, or ``FOLDER/judgments/PROTOCOL-NAME.jsonl``."""
        return self.cache_file or self.folder / "judgments" / f"{self.protocol}-{self.name}.jsonl"

    @property
    def annotation_dir(self) -> Path:
        return self.folder / "annotation" / self.name


def prompt_hash(prompt: str) -> str:
    """A short stable hash of an instruction text."""
    return hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]


class Judge:
    """Base of every judge: a ``name`` and :meth:`verdicts`."""

    name: str = "judge"

    def verdicts(self, task: JudgeTask, progress: bool = True) -> dict[str, dict[str, Any]]:
        """``key -> {"label", "reply", "attempts"}`` for every request of ``task``."""
        raise NotImplementedError


class ModelJudge(Judge):
    """A judge that reads instructions and replies in text; see the module docstring."""

    def complete(
        self, prompts: Sequence[str], attempt: int = 0, choices: Sequence[str] | None = None
    ) -> Iterator[tuple[int, str]]:
        """Yield ``(index into prompts, reply text)`` for every prompt, as replies arrive."""
        raise NotImplementedError

    def verdicts(self, task: JudgeTask, progress: bool = True) -> dict[str, dict[str, Any]]:
        requests = [{"key": r["key"], "prompt": r["prompt"]} for r in task.requests]
        return run_judge(
            self, requests, task.parse, task.cache_path, retries=task.retries, choices=task.choices,
            progress=progress, desc=f"{task.protocol} {task.name}",
        )


def run_judge(
    judge: ModelJudge,
    requests: Sequence[dict[str, str]],
    parse: Callable[[str], Any],
    cache_path: str | os.PathLike,
    *,
    retries: int = 2,
    choices: Sequence[str] | None = None,
    progress: bool = True,
    desc: str = "judging",
) -> dict[str, dict[str, Any]]:
    """Judge every ``{"key", "prompt"}`` request; return ``key -> {"label", "reply", "attempts"}``.

    ``label`` is ``parse(reply)`` of the first parseable reply, or ``None`` after ``retries`` retries.
    """
    from tqdm.auto import tqdm

    from lima_hf.evaluation.resumable import ResumableJsonl

    # a cache made by another judge (model, endpoint, sampling settings) is refused, never mixed in
    cache = ResumableJsonl(cache_path, dict(getattr(judge, "fingerprint", None) or {"judge": judge.name}),
                           what="judge replies", hint=f"choose another output folder, or delete {cache_path} to judge anew")
    wanted = {r["key"]: prompt_hash(r["prompt"]) for r in requests}
    history: dict[str, list[dict]] = {}
    for record in cache.records:
        if wanted.get(record.get("key")) == record.get("prompt_sha"):
            history.setdefault(record["key"], []).append(record)

    def finished(key: str) -> bool:
        records = history.get(key, [])
        return any(r["label"] is not None for r in records) or len(records) > retries

    bar = tqdm(total=len(requests), desc=desc, unit="judgment", disable=not progress)
    bar.update(sum(finished(r["key"]) for r in requests))
    try:
        while True:
            pending = [r for r in requests if not finished(r["key"])]
            if not pending:
                break
            attempt = min(len(history.get(r["key"], [])) for r in pending)
            batch = [r for r in pending if len(history.get(r["key"], [])) == attempt]
            answered = 0
            for index, reply in judge.complete([r["prompt"] for r in batch], attempt=attempt, choices=choices):
                request = batch[index]
                label = parse(reply)
                record = {
                    "key": request["key"],
                    "prompt_sha": wanted[request["key"]],
                    "attempt": attempt,
                    "judge": judge.name,
                    "reply": reply,
                    "label": label,
                }
                cache.append(record)
                history.setdefault(request["key"], []).append(record)
                answered += 1
                if finished(request["key"]):
                    bar.update(1)
            if answered < len(batch):
                raise JudgeUnavailableError(f"judge {judge.name} answered {answered} of {len(batch)} instructions")
    except JudgeUnavailableError as err:
        raise JudgeUnavailableError(
            f"{err}. The {sum(finished(r['key']) for r in requests)} judgments finished so far are saved in "
            f"{cache.path}; run the same command again to resume."
        ) from err
    finally:
        bar.close()
    results = {}
    for request in requests:
        records = history[request["key"]]
        parsed = next((r for r in records if r["label"] is not None), None)
        final = parsed or records[-1]
        results[request["key"]] = {"label": final["label"], "reply": final["reply"], "attempts": len(records)}
    return results
