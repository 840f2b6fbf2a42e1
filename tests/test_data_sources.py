"""The source contract: a new source is one module and one registry call, and the card describes it with
its own text, never another source's."""

import types
from dataclasses import dataclass

import datasets
import pytest

from lima_hf.data import sources
from lima_hf.data.build_config import parse_build_config
from lima_hf.data.builder import build_dataset
from lima_hf.data.records import SourceResult, make_record
from lima_hf.data.sources.base import CardEntry, SourceConfig
from lima_hf.errors import InputError


def _toy_source(labels: tuple[str, ...]) -> types.ModuleType:
    """A source module made in the test: ``NAME``, ``LABELS``, ``Config`` and ``curate``."""
    toy = types.ModuleType("toy_source")

    @dataclass
    class Config(SourceConfig):
        """Options of the toy source."""

    def curate(config):
        return SourceResult(records=[
            make_record(id=f"toy/{i}", source=labels[i % len(labels)], license="CC0-1.0",
                        messages=[{"role": "user", "content": f"Toy question {i}?"},
                                  {"role": "assistant", "content": f"Toy answer {i}."}])
            for i in range(4)
        ])

    toy.NAME, toy.Config, toy.curate = "toy", Config, curate
    toy.LABELS = {"toy": CardEntry("Toy proverbs", "Four made-up pairs, one per line.", "CC0-1.0", "The test.")}
    return toy


@pytest.fixture
def registry(monkeypatch):
    """The source registry, restored after the test."""
    monkeypatch.setattr(sources, "SOURCES", sources.SOURCES.copy())
    return sources


def _build(tmp_path, tokenizer):
    config = parse_build_config(
        {"tokenizer": tokenizer, "sources": {"toy": {}}, "splits": {"train": [{"source": "toy", "count": 4}]}},
        path="toy.yaml",
    )
    return build_dataset(config, tmp_path / "toy-data")


def test_a_new_source_is_one_module_and_one_registry_call(registry, bundled_model, tmp_path):
    registry.register_source(_toy_source(("toy",)))
    folder = _build(tmp_path, str(bundled_model))
    assert len(datasets.load_dataset(str(folder))["train"]) == 4
    card = (folder / "README.md").read_text()
    assert "### Toy proverbs (`toy`)\n\nFour made-up pairs, one per line." in card
    assert "- License: CC0-1.0 (rows: CC0-1.0)\n- Attribution: The test." in card
    assert "released LIMA" not in card


def test_a_label_without_card_entry_stops_the_build(registry, bundled_model, tmp_path):
    registry.register_source(_toy_source(("toy", "riddles")))
    config = parse_build_config(
        {"tokenizer": str(bundled_model), "sources": {"toy": {}},
         "splits": {"train": [{"source": "toy", "count": 2}, {"source": "riddles", "count": 2}]}},
        path="toy.yaml",
    )
    with pytest.raises(InputError, match="source 'toy' emitted records labelled 'riddles' but declares no card entry"):
        build_dataset(config, tmp_path / "toy-data")
    assert not (tmp_path / "toy-data").exists()


def test_every_registered_source_declares_the_contract():
    for name in sources.SOURCES:
        module = sources.load_source(name)
        assert module.NAME == name
        assert all(isinstance(module.LABELS[label], CardEntry) for label in module.LABELS)
        assert issubclass(module.Config, SourceConfig) and callable(module.curate)


def test_old_spellings_are_accepted_with_a_future_warning():
    with pytest.warns(FutureWarning, match="the source 'natural-instructions' is now 'natural_instructions'"):
        assert sources.load_source("natural-instructions").NAME == "natural_instructions"
    with pytest.warns(FutureWarning) as caught:
        config = parse_build_config(
            {"sources": {"monthly": {"source": "lima-release"}}, "splits": {"train": []}}, path="b.yaml"
        )
    assert config.sources[0].module == "lima_release"
    messages = [str(w.message) for w in caught]
    assert any("sources.monthly: the key 'source' is now 'module'" in m for m in messages)
    assert any("the source 'lima-release' is now 'lima_release'" in m for m in messages)
