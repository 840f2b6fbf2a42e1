"""Decontamination: drop training records that share a long word n-gram with an evaluation prompt.

A record is contaminated when its prompt (user turns) or its response (assistant turns) contains ``n``
consecutive words that also occur, consecutively, in any evaluation prompt. Words are the ``\\w+`` runs of
the lower-cased text, so punctuation, case and spacing do not hide an overlap. The default ``n`` is 13,
GPT-3's contamination check (Brown et al., 2020, appendix C), which the field has used since for
instruction data: long enough that common phrases ("what is the difference between ...") never match,
short enough that a copied question sentence does. open-instruct's decontamination scripts take the n-gram
size as an option (``--ngram_size``); so does lima-hf (``decontamination_ngram``). An evaluation prompt shorter
than ``n`` words matches only a training prompt made of exactly its words.

Each removed record is reported with the field that matched, the evaluation set and prompt id, and the
matching span (the longest run of overlapping words around the first hit).

Evaluation prompts come from anything :func:`lima_hf.evaluation.prompt_sets.load_prompts` reads (a dataset
folder's test split, the released LIMA ``test.jsonl``, a JSONL of ``{"prompt": ...}`` or ``{"messages": ...}``
rows such as an instruction-following prompt set), so a new prompt set plugs in by its path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_NGRAM = 13
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The lower-cased ``\\w+`` runs of ``text``."""
    return _WORD.findall(text.casefold())


@dataclass
class Match:
    """Where a training text overlaps an evaluation prompt."""

    eval_set: str
    eval_id: str
    span: str
    span_words: int


class EvalIndex:
    """Every ``n``-gram of a set of evaluation prompts (``{"id", "text", "set"}`` dicts)."""

    def __init__(self, prompts: Sequence[dict], n: int = DEFAULT_NGRAM):
        if n < 1:
            raise ValueError(f"the n-gram length must be at least 1, not {n}")
        self.n = n
        self.prompts = list(prompts)
        self._grams: dict[tuple[str, ...], int] = {}
        self._short: dict[tuple[str, ...], int] = {}
        for position, prompt in enumerate(self.prompts):
            tokens = words(prompt["text"])
            if len(tokens) < n:
                if tokens:
                    self._short.setdefault(tuple(tokens), position)
                continue
            for start in range(len(tokens) - n + 1):
                self._grams.setdefault(tuple(tokens[start : start + n]), position)

    @property
    def short_prompts(self) -> int:
        """Evaluation prompts shorter than ``n`` words (checked by exact prompt only)."""
        return len(self._short)

    def match(self, text: str, *, whole: bool = False) -> Match | None:
        """The first overlap of ``text`` with an evaluation prompt, or ``None``; ``whole``: ``text`` is a
        prompt, also compared whole with the evaluation prompts shorter than ``n`` words."""
        tokens = words(text)
        if whole and tuple(tokens) in self._short:
            prompt = self.prompts[self._short[tuple(tokens)]]
            return Match(prompt["set"], str(prompt["id"]), " ".join(tokens), len(tokens))
        n = self.n
        for start in range(len(tokens) - n + 1):
            position = self._grams.get(tuple(tokens[start : start + n]))
            if position is None:
                continue
            end = start + n
            while end < len(tokens) and tuple(tokens[end - n + 1 : end + 1]) in self._grams:
                end += 1
            prompt = self.prompts[position]
            return Match(prompt["set"], str(prompt["id"]), " ".join(tokens[start:end]), end - start)
        return None


def load_eval_prompts(paths: Iterable[str | os.PathLike], split: str = "test") -> list[dict]:
    """``{"id", "text", "set"}`` for every prompt of every path (its ``split`` where it has splits); the
    text is all user turns of the prompt."""
    from lima_hf.evaluation.prompt_sets import load_prompts

    prompts = []
    for path in paths:
        for prompt in load_prompts(path, split=split):
            prompts.append({"id": prompt["id"], "text": "\n\n".join(prompt["turns"]), "set": str(path)})
    return prompts


def prompts_of(records: Iterable[dict], set_name: str) -> list[dict]:
    """Evaluation prompts from records in memory (e.g. the test split of the dataset being built)."""
    return [{"id": r["id"], "set": set_name,
             "text": "\n\n".join(m["content"] for m in r["messages"] if m["role"] == "user")} for r in records]


def find_contamination(records: Sequence[dict], index: EvalIndex) -> list[dict]:
    """One ``{"id", "source", "reason": "contaminated", "detail", "field", "eval_set", "eval_id", "span"}``
    per contaminated record (prompt checked first, then response)."""
    removed = []
    for record in records:
        user = "\n\n".join(m["content"] for m in record["messages"] if m["role"] == "user")
        assistant = "\n\n".join(m["content"] for m in record["messages"] if m["role"] == "assistant")
        for name, text in (("prompt", user), ("response", assistant)):
            found = index.match(text, whole=name == "prompt")
            if found is not None:
                removed.append({
                    "id": record["id"], "source": record.get("source"), "reason": "contaminated",
                    "detail": f"{name} shares {found.span_words} words with {found.eval_set} prompt {found.eval_id}: "
                              f"\"{found.span}\"",
                    "field": name, "eval_set": found.eval_set, "eval_id": found.eval_id, "span": found.span,
                })
                break
    return removed


def decontaminate(records: Sequence[dict], index: EvalIndex) -> tuple[list[dict], list[dict]]:
    """``(kept, removed)``: ``records`` without the contaminated ones, and the report of those."""
    removed = find_contamination(records, index)
    gone = {r["id"] for r in removed}
    return [r for r in records if r["id"] not in gone], removed


def card_section(removed: Sequence[dict], sets: Sequence[str], n: int, short_prompts: int) -> str:
    """The dataset card's Markdown section saying what decontamination removed."""
    lines = ["", "## Decontamination", "",
             f"Training records whose prompt or response shares {n} consecutive words (lower-cased `\\w+` runs) "
             f"with an evaluation prompt were removed ({len(removed)}). Evaluation prompts: "
             + ", ".join(f"`{s}`" for s in sets) + "."]
    if short_prompts:
        lines.append(f"{short_prompts} evaluation prompts shorter than {n} words were matched by exact prompt only.")
    if removed:
        lines += ["", "| id | source | field | evaluation prompt | matching span |", "|---|---|---|---|---|"]
        for row in removed:
            span = row["span"] if len(row["span"]) <= 160 else row["span"][:157] + "..."
            lines.append(f"| `{row['id']}` | {row.get('source') or '-'} | {row['field']} | "
                         f"{row['eval_set']} `{row['eval_id']}` | {span.replace('|', '/')} |")
    return "\n".join(lines) + "\n"
