"""The curation manifest: the manual choices of a build (which items, which not, which edits) as data.

The paper picked WritingPrompts, AskReddit questions and multi-turn chains by hand and edited some texts.
A manifest records such choices so that a build from the raw dumps plus the manifest is reproducible and
every choice is reviewable in a diff::

    # manifest.yaml
    writingprompts:                         # a record `source` (or `<source>/<pool>`, e.g. stackexchange/multi_turn)
      select:                               # only these ids, in this order (omit to keep the source's order)
        - reddit/writingprompts/d1aaa2
        - reddit/writingprompts/d1aaa1
      exclude:                              # never use these ids
        - reddit/writingprompts/d1aaa3
      overrides:                            # edited texts, by id
        reddit/writingprompts/d1aaa1:
          prompt: A shorter prompt.         # replaces the first user turn
          response: An edited story.        # replaces the first assistant turn
          # or messages: [{role: user, content: ...}, ...] replaces the whole conversation
          reason: why the edit was made     # kept in the record's metadata

A key names the items of one record ``source`` in a pool: ``writingprompts`` is the main records of the
source ``writingprompts``; ``stackexchange/multi_turn_candidates`` the dialogues a source returns as the
extra list ``multi_turn_candidates``. Every id the manifest names must exist among that pool's candidates
(or its rejections, for ``exclude``); otherwise the build stops with an error naming the manifest, the key
and the id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lima_hf.data.records import SourceResult, make_rejection
from lima_hf.errors import InputError
from lima_hf.io import read_yaml

OVERRIDE_FIELDS = {"prompt", "response", "messages", "reason"}


@dataclass
class ManifestEntry:
    """The choices for one pool of one source."""

    select: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)  # id -> line in the manifest, for error messages


@dataclass
class Manifest:
    """A curation manifest: ``entries[key]`` for ``key`` = ``source`` or ``source/pool``."""

    path: str = "<manifest>"
    entries: dict[str, ManifestEntry] = field(default_factory=dict)

    def entry(self, source: str, pool: str = "records") -> ManifestEntry | None:
        """The entry for a record ``source`` in ``pool`` (``records`` or an extras list name)."""
        return self.entries.get(source if pool == "records" else f"{source}/{pool}")

    def apply(self, source: str, pool: str, items: list[dict], known_ids: set[str] = frozenset()) -> list[dict]:
        """``items`` (records of one source in one pool) with the manifest's choices applied.

        ``known_ids`` are ids that exist but were rejected by a curation rule: they may be excluded, not
        selected or edited. An unknown id raises :class:`InputError` naming the manifest and the id.
        """
        entry = self.entry(source, pool)
        if entry is None:
            return items
        key = source if pool == "records" else f"{source}/{pool}"
        by_id = {item["id"]: item for item in items}

        def fail(kind: str, item_id: str, why: str) -> InputError:
            line = entry.lines.get(item_id)
            where = f"{self.path}:{line}" if line else self.path
            return InputError(f"{where}: {key}: {kind} id '{item_id}' {why}")

        for item_id in entry.exclude:
            if item_id not in by_id and item_id not in known_ids:
                raise fail("excluded", item_id, f"does not exist among the {len(by_id)} candidates")
        for kind, ids in (("selected", entry.select or []), ("overridden", list(entry.overrides))):
            for item_id in ids:
                if item_id not in by_id:
                    why = (
                        "was rejected by a curation rule (see the rejection log)"
                        if item_id in known_ids
                        else f"does not exist among the {len(by_id)} candidates"
                    )
                    raise fail(kind, item_id, why)
        excluded = set(entry.exclude)
        chosen = [by_id[i] for i in entry.select] if entry.select is not None else list(items)
        result = []
        for item in chosen:
            if item["id"] in excluded:
                continue
            override = entry.overrides.get(item["id"])
            result.append(apply_override(item, override) if override else item)
        return result


    def apply_to_pools(
        self, pools: dict[tuple[str, str], list[dict]], known: dict[str, set[str]], *, every_key: bool = True
    ) -> list[dict]:
        """Apply the manifest to every pool of :func:`candidate_pools` (in place); return the rejection log
        lines of the items it dropped. ``every_key``: a key that names no pool is an error (a whole build;
        one source curated alone sees only its own pools)."""
        rejections = []
        for (source, pool), items in list(pools.items()):
            kept = self.apply(source, pool, items, known.get(source, set()))
            kept_ids = {item["id"] for item in kept}
            entry = self.entry(source, pool)
            for item in items:
                if item["id"] not in kept_ids:
                    reason = "manifest_excluded" if entry and item["id"] in entry.exclude else "manifest_not_selected"
                    rejections.append(make_rejection(source=source, id=item["id"], reason=reason, detail=self.path))
            pools[(source, pool)] = kept
        for key in self.entries if every_key else ():
            source, _, pool = key.partition("/")
            if (source, pool or "records") not in pools:
                raise InputError(
                    f"{self.path}: '{key}' names no pool of curated candidates "
                    f"(have: {', '.join(sorted(s if p == 'records' else f'{s}/{p}' for s, p in pools))})"
                )
        return rejections


def candidate_pools(
    results: Iterable[SourceResult],
) -> tuple[dict[tuple[str, str], list[dict]], dict[str, set[str]]]:
    """The records of curated ``results`` by (record ``source``, pool: ``records`` or an extras list), and
    the ids each record source rejected (which a manifest may exclude but not select)."""
    pools: dict[tuple[str, str], list[dict]] = {}
    known: dict[str, set[str]] = {}
    for result in results:
        lists = [("records", result.records)] + [(name, items) for name, items in sorted(result.extras.items())]
        for pool, items in lists:
            for item in items:
                if isinstance(item, dict) and "messages" in item and "source" in item:
                    pools.setdefault((item["source"], pool), []).append(item)
        for rejection in result.rejections:
            known.setdefault(rejection["source"], set()).add(rejection["id"])
    return pools, known


def apply_override(record: dict, override: dict[str, Any]) -> dict:
    """A copy of ``record`` with the override's texts; the original texts are kept in ``metadata``."""
    record = dict(record)
    messages = [dict(m) for m in record["messages"]]
    if "messages" in override:
        messages = [{"role": m["role"], "content": m["content"]} for m in override["messages"]]
    if "prompt" in override:
        messages[0]["content"] = override["prompt"]
    if "response" in override:
        if len(messages) < 2:
            messages.append({"role": "assistant", "content": override["response"]})
        else:
            messages[1]["content"] = override["response"]
    metadata = json.loads(record.get("metadata") or "{}")
    metadata["manifest_override"] = {"reason": override.get("reason", ""), "original": record["messages"]}
    record["messages"] = messages
    record["metadata"] = json.dumps(metadata, ensure_ascii=False, sort_keys=True)
    return record


def _id_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise InputError(f"{where}: expected a list of ids")
    return [str(v) for v in value]


def load_manifest(path: str | os.PathLike) -> Manifest:
    """Read and validate a manifest YAML file; errors name the file, line and key."""
    path = Path(path)
    data, root = read_yaml(path, "manifest")
    data = data or {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: a manifest is a mapping of source: {{select, exclude, overrides}}")
    nodes = {k.value: (k, v) for k, v in root.value} if root is not None else {}
    manifest = Manifest(path=str(path))
    for key, value in data.items():
        key_node, value_node = nodes[key]
        where = f"{path}:{key_node.start_mark.line + 1}: {key}"
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping with select/exclude/overrides")
        unknown = set(value) - {"select", "exclude", "overrides"}
        if unknown:
            raise InputError(
                f"{where}: unknown field(s) {', '.join(sorted(unknown))} (allowed: select, exclude, overrides)"
            )
        entry = ManifestEntry(
            select=_id_list(value["select"], f"{where}.select") if value.get("select") is not None else None,
            exclude=_id_list(value.get("exclude") or [], f"{where}.exclude"),
        )
        overrides = value.get("overrides") or {}
        if not isinstance(overrides, dict):
            raise InputError(f"{where}.overrides: expected a mapping of id: {{prompt, response, messages, reason}}")
        for item_id, override in overrides.items():
            if not isinstance(override, dict) or not override or set(override) - OVERRIDE_FIELDS:
                raise InputError(f"{where}.overrides.{item_id}: expected some of {', '.join(sorted(OVERRIDE_FIELDS))}")
            entry.overrides[str(item_id)] = override
        for _, child in value_node.value:
            if isinstance(child, yaml.SequenceNode):
                for item in child.value:
                    entry.lines.setdefault(str(item.value), item.start_mark.line + 1)
            elif isinstance(child, yaml.MappingNode):
                for item, _ in child.value:
                    entry.lines.setdefault(str(item.value), item.start_mark.line + 1)
        manifest.entries[str(key)] = entry
    return manifest
