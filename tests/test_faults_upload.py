"""Fault cases about uploads: a push takes only regular files inside the folder whose names are on the allow-list
(a link leading outside is refused in one line, a stray ``credentials.json`` stays local), and only a folder that
loads (non-empty readable weights, a tokenizer that loads, a card that parses). Each test registers the user's
files (``user_files``: unchanged after the test) and runs with the token in the environment (found nowhere)."""

import json
import logging
import os

import pytest
from fake_hub import FakeHub
from faults_helpers import TOKEN, point_hub_at

from lima_hf.cli import main

pytestmark = pytest.mark.usefixtures("token_in_environment")  # the token in the environment, found nowhere

SECRET = "outside-the-folder-secret-0123456789"
STRAY_TOKEN = "hf_StrayCredentialsToken0123456789ab"  # a user's token in a stray credentials.json, never sent
RECORD = {"id": "1", "source": "s", "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


@pytest.fixture
def hub(monkeypatch):
    with FakeHub(token=TOKEN) as server:
        point_hub_at(monkeypatch, server.url, TOKEN)
        yield server


@pytest.fixture
def model_folder(model_folder, tmp_path):
    """The tiny chat model (conftest) with a card of the user's, and a secret beside the folder."""
    (model_folder / "README.md").write_text("---\nlicense: apache-2.0\n---\n# mine\n")
    (tmp_path / "outside_secret.txt").write_text(SECRET)
    return model_folder


@pytest.fixture
def dataset_dir(tmp_path):
    from lima_hf.data.dataset_folder import write_dataset_folder

    (tmp_path / "outside_secret.txt").write_text(SECRET)
    return write_dataset_folder(tmp_path / "ds", {"default": {"train": [RECORD]}}, "---\nlicense: cc-by-4.0\n---\n# ds\n")


def _push(kind, folder, capsys, caplog):
    caplog.set_level(logging.INFO)
    code = main(["push", kind, str(folder), "--repo_id", f"me/{kind}", *(["--no_model_card"] if kind == "model" else [])])
    return code, capsys.readouterr()


def _sent(hub, kind):
    repo = hub.repos.get((kind, f"me/{kind}")) or next((r for r in hub.repos.values() if r.repo_id == f"me/{kind}"), None)
    return {} if repo is None else {name: f.data for name, f in repo.files.items()}


def _assert_secret_not_sent(hub, kind):
    for name, data in _sent(hub, kind).items():
        assert SECRET.encode() not in data, name


@pytest.mark.parametrize("name", ["vocab.txt", "sub/README.md"])
def test_a_link_to_a_file_outside_the_model_folder_is_refused(hub, model_folder, tmp_path, capsys, caplog, user_files,
                                                              name):
    link = model_folder / name
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(os.path.relpath(tmp_path / "outside_secret.txt", link.parent))
    user_files(tmp_path)
    code, out = _push("model", model_folder, capsys, caplog)
    assert code == 1 and "symbolic link" in out.err and "outside the folder" in out.err
    assert len(out.err.strip().splitlines()) == 1
    assert _sent(hub, "model") == {}


def test_a_link_outside_that_is_not_uploaded_is_ignored_and_one_inside_is_followed(hub, model_folder, tmp_path, capsys,
                                                                                  caplog, user_files):
    (model_folder / "extra_config.json").symlink_to("../outside_secret.txt")  # not on the allow-list: stays local
    (model_folder / "chat_template.json").unlink(missing_ok=True)
    (model_folder / "vocab.txt").symlink_to("README.md")  # inside: uploaded as the file it names
    (model_folder / "credentials.json").write_text(json.dumps({"token": STRAY_TOKEN}))
    (model_folder / "notes.json").write_text("{}")
    user_files(tmp_path)
    code, out = _push("model", model_folder, capsys, caplog)
    assert code == 0, out.err
    sent = _sent(hub, "model")
    assert {"model.safetensors", "config.json", "tokenizer.json", "vocab.txt", "README.md"} <= sent.keys()
    assert not {"extra_config.json", "credentials.json", "notes.json"} & sent.keys()
    assert sent["vocab.txt"] == (model_folder / "README.md").read_bytes()
    _assert_secret_not_sent(hub, "model")
    assert not [name for name, data in sent.items() if STRAY_TOKEN.encode() in data or TOKEN.encode() in data]


def test_a_dataset_push_leaves_stray_json_and_refuses_linked_folders(hub, dataset_dir, tmp_path, capsys, caplog,
                                                                     user_files):
    (dataset_dir / "credentials.json").write_text(json.dumps({"token": STRAY_TOKEN}))
    (dataset_dir / "extra.jsonl").write_text("{}\n")
    (dataset_dir / "data" / "extra.parquet").symlink_to(tmp_path / "outside_secret.txt")  # not named by the card
    user_files(tmp_path)
    code, out = _push("dataset", dataset_dir, capsys, caplog)
    assert code == 0, out.err
    sent = _sent(hub, "dataset")
    assert "README.md" in sent and "data/default/train-00000-of-00001.parquet" in sent
    assert not {"credentials.json", "extra.jsonl", "data/extra.parquet", ".lima-hf-output.json"} & sent.keys()
    _assert_secret_not_sent(hub, "dataset")
    assert not [name for name, data in sent.items() if STRAY_TOKEN.encode() in data or TOKEN.encode() in data]
    user_files.check()

    outside = tmp_path / "outside_plots"
    outside.mkdir()
    (outside / "secret.png").write_text(SECRET)
    (dataset_dir / "plots").symlink_to(outside)
    user_files(tmp_path)
    code, out = _push("dataset", dataset_dir, capsys, caplog)
    assert code == 1 and "plots: a symbolic link" in out.err and len(out.err.strip().splitlines()) == 1


def test_empty_or_unreadable_weights_are_refused(hub, model_folder, tmp_path, capsys, caplog, user_files):
    weights = model_folder / "model.safetensors"
    for content, said in ((b"", "empty weights file (0 bytes)"), (b"\x10\x00\x00\x00not a header", "not a readable")):
        weights.write_bytes(content)
        user_files(tmp_path)
        code, out = _push("model", model_folder, capsys, caplog)
        assert code == 1 and said in out.err and len(out.err.strip().splitlines()) == 1, out.err
        assert _sent(hub, "model") == {}
        user_files.check()


def test_a_model_whose_tokenizer_does_not_load_is_refused(hub, model_folder, tmp_path, capsys, caplog, user_files):
    (model_folder / "tokenizer.json").unlink()  # a save killed between the weights and the tokenizer
    user_files(tmp_path)
    code, out = _push("model", model_folder, capsys, caplog)
    assert code == 1 and "no tokenizer (missing tokenizer.json)" in out.err and len(out.err.strip().splitlines()) == 1
    assert _sent(hub, "model") == {}


def test_a_dataset_with_a_broken_shard_or_card_is_refused(hub, dataset_dir, tmp_path, capsys, caplog, user_files):
    shard = dataset_dir / "data" / "default" / "train-00000-of-00001.parquet"
    shard.write_bytes(b"PAR1 truncated")
    user_files(tmp_path)
    code, out = _push("dataset", dataset_dir, capsys, caplog)
    assert code == 1 and "not a readable Parquet file" in out.err and len(out.err.strip().splitlines()) == 1
    assert _sent(hub, "dataset") == {}
    user_files.check()
    (dataset_dir / "README.md").write_text("---\nlicense: [unclosed\n---\n")
    user_files(dataset_dir)
    code, out = _push("dataset", dataset_dir, capsys, caplog)
    assert code == 1 and "README.md" in out.err and len(out.err.strip().splitlines()) == 1
