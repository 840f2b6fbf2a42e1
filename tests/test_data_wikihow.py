"""wikiHow: the three published formats, LIMA's answer shape, category-first sampling, bad input."""

import csv
import json

import pytest

from lima_hf.data.sources import wikihow
from lima_hf.errors import InputError

SAMPLES = wikihow.Path(wikihow.__file__).resolve().parents[2] / "resources" / "samples" / "wikihow"


def _curate(path, **kw):
    return wikihow.curate(wikihow.Config(input=str(path), **kw))


def _by_id(result):
    return {r["id"]: r for r in result.records}


def test_corpus_json_gives_lima_shape():
    records = _by_id(_curate(SAMPLES / "wikihow_corpus.json"))
    coffee = records["wikihow/How-to-Make-Cold-Brew-Coffee"]
    prompt, answer = (m["content"] for m in coffee["messages"])
    assert prompt == "How to make cold brew coffee?"
    assert answer.startswith("Cold brew coffee is smooth") and "The following answer shows you how" in answer
    assert "## Brewing the Concentrate\n\n1. Grind the beans coarsely. Use about 100 g" in answer
    # spacing as in the released answers: a blank line after the intro, two between sections, final newline
    assert "muddy.\n2. Steep" in answer and "serve it.\n\n## Brewing" in answer
    assert "\n\n\n## Serving Cold Brew\n\n1. Dilute" in answer and answer.endswith("watery.\n")
    assert "Method 1" not in answer
    assert "http" not in answer and "](" not in answer and "[1]" not in answer and "See this guide" in answer
    assert "Cold brew keeps for about two weeks" not in answer  # tips dropped, as in the released data
    assert coffee["category"] == "Food and Entertaining" and coffee["license"] == "CC BY-NC-SA 3.0"
    assert coffee["url"] == "https://www.wikihow.com/Make-Cold-Brew-Coffee"
    screenshot = records["wikihow/How-to-Take-a-Screenshot-on-Windows"]["messages"][1]["content"]
    assert screenshot.startswith("The following answer teaches you")  # "This wikiHow teaches you" rewritten
    assert "Advertisement" not in records["wikihow/How-to-Repot-a-Houseplant"]["messages"][1]["content"]


def test_csv_formats(caplog):
    sep = _by_id(_curate(SAMPLES / "wikihowSep.csv"))
    pan = sep["wikihow/How-to-Clean-a-Cast-Iron-Pan"]["messages"][1]["content"]
    assert pan.startswith("Cast iron lasts for generations")
    assert "## Cleaning After Cooking\n\n1. Rinse the pan while it is warm. Use hot water" in pan
    assert "## Restoring a Rusty Pan\n\n1. Scrub off the rust." in pan
    assert all(r["category"] is None for r in sep.values())
    everything = _by_id(_curate(SAMPLES / "wikihowAll.csv"))
    assert set(everything) == {
        "wikihow/How-to-Cook-Spaghetti",
        "wikihow/How-to-Paint-a-Room",
    }  # "Room1", "Room2" merged
    spaghetti = everything["wikihow/How-to-Cook-Spaghetti"]["messages"][1]["content"]
    assert spaghetti.startswith("1. Boil water for the pasta. Use a large pot")
    assert "no categories" in caplog.text


def test_category_first_sampling_is_deterministic_and_spreads_categories(tmp_path):
    first = [r["id"] for r in _curate(SAMPLES, seed=1).records]
    assert first == [r["id"] for r in _curate(SAMPLES, seed=1).records]
    assert first != [r["id"] for r in _curate(SAMPLES, seed=2).records]
    # 20 articles in one category and one in each of four others: a category is drawn first, so the big
    # category comes first in about 1 of 5 orders (uniform over articles would give 20 of 24)
    steps = [{"headline": "a", "description": "b"}, {"headline": "c", "description": "d"}]
    rows = [
        {"title": f"How to Big {i}", "category_hierarchy": ["Big"], "methods": [{"name": "m", "steps": steps}]}
        for i in range(20)
    ]
    rows += [
        {"title": f"How to Small {c}", "category_hierarchy": [c], "methods": [{"name": "m", "steps": steps}]}
        for c in "ABCD"
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    big_first = sum(_curate(path, seed=seed, count=1).records[0]["category"] == "Big" for seed in range(60))
    assert 3 <= big_first <= 24
    rejected = _curate(SAMPLES, min_methods=2).rejections
    assert {"wikihow/How-to-Cook-Spaghetti", "wikihow/How-to-Whistle"} <= {r["id"] for r in rejected}


def test_bad_csv_names_file_and_line(tmp_path):
    path = tmp_path / "wikihowSep.csv"
    path.write_text("overview,headline,title\nx,y,z\n")
    with pytest.raises(InputError, match=r"wikihowSep.csv:1: unknown wikiHow CSV header"):
        _curate(path)
    path = tmp_path / "wikihowAll.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerows(
            [["headline", "title", "text"], ["\nStep one.,\nStep two.", "How to Ok", "a\nb"], ["only two", "fields"]]
        )
    with pytest.raises(InputError, match=r"wikihowAll.csv:6: row has 2 fields, expected 3"):
        _curate(path)
    result = _curate(path, on_error="skip")
    assert [r["id"] for r in result.records] == ["wikihow/How-to-Ok"]
    assert result.rejections[0]["reason"] == "malformed" and "wikihowAll.csv:6" in result.rejections[0]["detail"]


def test_malformed_corpus_article(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text(
        '{"title": "How to A", "methods": [{"name": "m", "steps": [{"headline": "x"}, {"headline": "y"}]}]}\n'
        '{"title": "How to B", "methods": "none"}\n'
    )
    with pytest.raises(InputError, match=r"corpus.jsonl:2: 'methods' must be a list"):
        _curate(path)
    assert len(_curate(path, on_error="skip").records) == 1


def test_format_is_read_from_the_content_whatever_the_name(tmp_path):
    """Each format is told by its content: renamed files (any extension) give the same records."""
    folder = tmp_path / "renamed"
    folder.mkdir()
    for source, name in (("wikihowSep.csv", "steps.txt"), ("wikihowAll.csv", "articles"),
                         ("wikihow_corpus.json", "corpus.dat")):
        (folder / name).write_bytes((SAMPLES / source).read_bytes())
        renamed, original = _by_id(_curate(folder / name)), _by_id(_curate(SAMPLES / source))
        assert {k: r["messages"] for k, r in renamed.items()} == {k: r["messages"] for k, r in original.items()}
    lines = tmp_path / "corpus.export"
    articles = json.loads((SAMPLES / "wikihow_corpus.json").read_text())
    articles = articles if isinstance(articles, list) else list(articles.values())
    lines.write_text("".join(json.dumps(a) + "\n" for a in articles))
    assert wikihow.file_format(lines) == "jsonl"
    assert [wikihow.file_format(folder / n) for n in ("steps.txt", "articles", "corpus.dat")] == ["sep", "all", "json"]
    (folder / "notes.txt").write_text("just some notes\n")
    assert len(_curate(folder).records) == len(_curate(SAMPLES).records)  # notes.txt is not an input
