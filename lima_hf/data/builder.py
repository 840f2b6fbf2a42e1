"""Build the LIMA dataset: ``build_dataset`` (the ``build-dataset`` command's work: compose, card, folder)
and :class:`LimaBuilder`, a ``datasets.GeneratorBasedBuilder`` for Python users. The composition itself is
:mod:`lima_hf.data.composition`.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import datasets

from lima_hf.data.build_config import BuildConfig, load_build_config
from lima_hf.data.card import build_card, length_plot_png, license_text
from lima_hf.data.composition import (
    Composition,
    build_summary,
    compose,
    write_rejection_logs,
)
from lima_hf.data.dataset_folder import (
    DEFAULT_CONFIG,
    RECORD_SCHEMA,
    write_dataset_folder,
)
from lima_hf.data.records import normalise_record
from lima_hf.errors import InputError
from lima_hf.io import (
    check_output_not_input,
    check_replaceable_folder,
    read_jsonl,
    write_jsonl,
)
from lima_hf.paper import CITATION, PAPER_URL


def check_build_output(config: BuildConfig, output_dir: str | os.PathLike) -> None:
    """Refuse, before any work, an output folder that is, holds or lies inside an input or is not lima-hf's to
    replace, and a tokenizer path that does not exist."""
    inputs = [run.options.get("input") for run in config.sources] + [config.path, config.manifest]
    check_output_not_input(output_dir, inputs, inside=True)  # a source folder would read the build back as data
    check_output_not_input(rejections_dir(output_dir), inputs, inside=True)
    check_replaceable_folder(output_dir)
    check_replaceable_folder(rejections_dir(output_dir))
    if config.tokenizer != "bundled":
        from lima_hf.chat import check_tokenizer_source

        check_tokenizer_source(config.tokenizer)


def rejections_dir(output_dir: str | os.PathLike) -> Path:
    """Where the rejection logs of a build go: a folder beside the dataset folder (kept out of the push)."""
    output_dir = Path(os.path.abspath(output_dir))
    return output_dir.parent / f"{output_dir.name}.rejections"


def build_dataset(
    config: BuildConfig | str | os.PathLike, output_dir: str | os.PathLike, *, composition: Composition | None = None
) -> Path:
    """Build the dataset of ``config`` (a :class:`BuildConfig` or a YAML path) into ``output_dir``.

    Writes the Hub-ready folder (Parquet per split, README.md card with Table 1 and the length plot,
    ``build_summary.json``) atomically, and the rejection logs beside it (``<output_dir>.rejections/``).
    """
    if not isinstance(config, BuildConfig):
        config = load_build_config(config)
    check_build_output(config, output_dir)
    composition = compose(config) if composition is None else composition
    section = decontaminate_composition(composition, config.decontaminate, config.decontamination_ngram)
    summary = build_summary(composition)
    card, stats = build_card(config, composition, summary)
    card.text += section
    files = {
        "length_distribution.png": length_plot_png(stats),
        "LICENSE.md": license_text(config, composition).encode(),
        "build_summary.json": (
            json.dumps(
                {**summary, "table1": stats["table"], "tokenizer": stats["tokenizer"]}, indent=2, ensure_ascii=False
            )
            + "\n"
        ).encode(),
    }
    path = write_dataset_folder(output_dir, composition.configs, card, files=files)
    write_rejection_logs(composition, rejections_dir(output_dir))
    return path


def decontaminate_composition(composition: Composition, against: list[str], n: int) -> str:
    """Drop every training record (all splits but test and validation) sharing an ``n``-gram with the
    evaluation prompts ``against`` ("test": this build's test split; else prompt files); the removed ones
    become rejections. Returns the card's section ("" when ``against`` is empty)."""
    if not against:
        return ""
    from lima_hf.data.decontamination import (
        EvalIndex,
        card_section,
        decontaminate,
        load_eval_prompts,
        prompts_of,
    )

    prompts = load_eval_prompts([p for p in against if p != "test"])
    if "test" in against:
        prompts += prompts_of(composition.configs.get(DEFAULT_CONFIG, {}).get("test", []), "test split")
    index = EvalIndex(prompts, n)
    removed = []
    for splits in composition.configs.values():
        for split in [s for s in splits if s not in ("test", "validation")]:
            splits[split], gone = decontaminate(splits[split], index)
            removed += gone
    composition.rejections.extend(removed)
    return card_section(removed, [("test split" if p == "test" else str(p)) for p in against], n, index.short_prompts)


class LimaBuilderConfig(datasets.BuilderConfig):
    """A :class:`LimaBuilder` config: ``name`` is ``default`` or ``multi_turn``; ``build_config`` a YAML path."""

    def __init__(self, build_config: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.build_config = build_config


def _fingerprint(path: str) -> str:
    """Hash of the build config and the size and mtime of every input it names (the cache key)."""
    config = load_build_config(path)
    digest = hashlib.sha256(Path(path).read_bytes())
    for run in config.sources:
        root = Path(run.options.get("input") or "")
        files = (
            sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root] if root.is_file() else []
        )
        for file in files:
            stat = file.stat()
            digest.update(f"{file}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    if config.manifest and Path(config.manifest).is_file():
        digest.update(Path(config.manifest).read_bytes())
    return digest.hexdigest()[:16]


class LimaBuilder(datasets.GeneratorBasedBuilder):
    """The LIMA dataset as a ``datasets`` builder, composed from raw sources by a build config.

    >>> builder = LimaBuilder(config_name="default", build_config="dataset_scripts/lima.yaml")
    >>> builder.download_and_prepare()
    >>> lima = builder.as_dataset()          # DatasetDict with train/validation/test

    ``config_name="multi_turn"`` gives the dialogues. The cache key covers the build config and the size and
    modification time of its inputs, so editing either rebuilds; ``build_config`` defaults to the bundled
    quickstart config (the project's sample sources).
    """

    BUILDER_CONFIG_CLASS = LimaBuilderConfig
    BUILDER_CONFIGS = [
        LimaBuilderConfig(
            name=DEFAULT_CONFIG, description="Single-turn examples: train, validation (the paper's dev set) and test."
        ),
        LimaBuilderConfig(name="multi_turn", description="Multi-turn dialogues (train)."),
    ]
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG

    def __init__(self, *args, build_config: str | os.PathLike | None = None, **kwargs):
        path = str(build_config) if build_config is not None else str(quickstart_config_path())
        kwargs.setdefault("dataset_name", "lima")
        kwargs.setdefault("hash", _fingerprint(path))
        super().__init__(*args, build_config=path, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="LIMA (Zhou et al., 2023) composed from its raw sources by lima-hf.",
            features=datasets.Features.from_arrow_schema(RECORD_SCHEMA),
            citation=CITATION,
            homepage=PAPER_URL,
        )

    def _split_generators(self, dl_manager):
        """Compose the splits once and write each as a JSONL file in the cache; the generators get its path."""
        build_config = load_build_config(self.config.build_config)
        composition = compose(build_config)
        decontaminate_composition(composition, build_config.decontaminate, build_config.decontamination_ngram)
        splits = composition.configs.get(self.config.name)
        if not splits:
            raise InputError(f"{self.config.build_config}: the build config defines no '{self.config.name}' parts")
        folder = Path(self._cache_dir_root) / "lima_composed" / f"{self.config.name}-{self.hash}"
        paths = {split: folder / f"{split}.jsonl" for split in splits}
        for split, records in splits.items():
            write_jsonl(paths[split], records)
        return [datasets.SplitGenerator(name=split, gen_kwargs={"path": str(path)}) for split, path in paths.items()]

    def _generate_examples(self, path):
        for line, row in read_jsonl(path):
            yield line, normalise_record(row, f"{path}:{line}")


def quickstart_config_path() -> Path:
    """The bundled build config of the quickstart (every bundled sample source, small counts)."""
    return Path(__file__).resolve().parent.parent / "resources" / "quickstart_dataset.yaml"
