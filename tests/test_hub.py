"""Push round trips against a Hub on loopback (tests/fake_hub.py): files, cards, token hygiene, resumption."""

import json
import logging
import re
from pathlib import Path

import pytest
from fake_hub import FakeHub, point_hub_at
from faults_helpers import assert_no_token

TOKEN = "hf_TestTokenNeverWritten0123456789"


@pytest.fixture
def hub(monkeypatch):
    """A fake Hub; huggingface_hub pointed at it (online, plain HTTP + LFS), the token in HF_TOKEN."""
    with FakeHub(token=TOKEN, multipart_threshold=1 << 20, chunk_size=4 << 20) as server:
        point_hub_at(monkeypatch, server.url, TOKEN)
        yield server


@pytest.fixture
def model_folder(model_folder):
    """A training output folder: the final model (conftest's tiny chat model), trainer state, args, a checkpoint."""
    import torch
    from transformers import TrainingArguments

    from lima_hf.training.checkpoints import save_training_args

    args = TrainingArguments(output_dir=str(model_folder), learning_rate=1e-5, adam_beta2=0.95, weight_decay=0.1,
                             num_train_epochs=15, lr_scheduler_type="linear", hub_token=TOKEN, report_to=[])
    torch.save(args, model_folder / "training_args.bin")  # what the Trainer pickles: never read nor uploaded
    save_training_args(args, model_folder)  # what LimaSFTTrainer writes beside it, and the card reads
    state = {"global_step": 30, "epoch": 15.0, "train_batch_size": 2,
             "log_history": [{"loss": 2.5, "step": 10}, {"loss": 1.25, "step": 30}]}
    (model_folder / "trainer_state.json").write_text(json.dumps(state))
    (model_folder / "rng_state.pth").write_bytes(b"\0" * 100)
    (model_folder / "checkpoint-10").mkdir()
    (model_folder / "checkpoint-10" / "optimizer.pt").write_bytes(b"\0" * 1000)
    return model_folder


def _downloaded(hub, repo_id, repo_type, dest):
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id, repo_type=repo_type, local_dir=dest, endpoint=hub.url))


def test_push_model_round_trip(hub, model_folder, tmp_path, capsys, caplog):
    from huggingface_hub import ModelCard
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lima_hf.cli import main
    from lima_hf.evaluation.reports import write_report

    report = write_report(tmp_path / "reports" / "likert", "Helpfulness (1-6)", {"systems": {}},
                          "| system | mean helpfulness (1-6) |\n|---|---|\n| lima-tiny | 4.20 |", plots=["likert.png"])
    caplog.set_level(logging.DEBUG)
    code = main(["push", "model", str(model_folder), "--repo_id", "lima/lima-tiny", "--private",
                 "--base_model", "HuggingFaceTB/SmolLM2-135M", "--datasets", "lima/lima-data",
                 "--license", "apache-2.0", "--evaluation_dir", str(report.parent)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "lima/lima-tiny" in out.out

    repo = hub.repo("lima/lima-tiny")
    assert repo.private
    assert not {"checkpoint-10/optimizer.pt", "training_args.bin", "rng_state.pth"} & repo.files.keys()
    assert repo.files["model.safetensors"].lfs  # large weights went through LFS (multipart)
    assert hub.count("PUT", r"/_lfs/[0-9a-f]+/part/") >= 2
    # every write carried the token, in the Authorization header only
    writes = [r for r in hub.requests if r.method in ("POST", "PUT") and not r.path.startswith("/_lfs")]
    assert writes and all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in writes)

    local = _downloaded(hub, "lima/lima-tiny", "model", tmp_path / "download")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"):
        assert (local / name).read_bytes() == (model_folder / name).read_bytes(), name

    card = ModelCard.load(local / "README.md")
    meta = card.data.to_dict()
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M"
    assert meta["datasets"] == ["lima/lima-data"]
    assert meta["license"] == "apache-2.0"
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert "lima-hf" in meta["tags"]
    assert "| learning rate | 1e-5 |" in card.text and "| AdamW beta2 | 0.95 |" in card.text
    assert "| final training loss | 1.2500 |" in card.text
    assert "<|eot|>" in card.text and "apply_chat_template" in card.text
    assert "### Helpfulness (1-6)" in card.text and "| lima-tiny | 4.20 |" in card.text
    assert "likert.png" not in card.text  # plots stay in the report folder

    # the pushed model chats with plain transformers and stops on the EOT
    tokenizer = AutoTokenizer.from_pretrained(local)
    model = AutoModelForCausalLM.from_pretrained(local)
    eot_id = tokenizer.convert_tokens_to_ids("<|eot|>")
    assert eot_id in model.generation_config.eos_token_id
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    assert ids[-1] == eot_id or tokenizer.decode(ids).endswith("Hi<|eot|>")
    # and the card's own snippet runs as written (on the downloaded copy, a few tokens)
    snippet = re.search(r"```python\n(.*?)```", card.text, re.DOTALL).group(1)
    snippet = snippet.replace('"lima/lima-tiny"', repr(str(local))).replace("max_new_tokens=2048", "max_new_tokens=4")
    exec(compile(snippet, "model card snippet", "exec"), {})  # noqa: S102 - our own generated card

    logs = "\n".join(record.getMessage() for record in caplog.records)
    # training_args.bin holds the token (the Trainer pickles hub_token): it stays local, never uploaded
    assert_no_token(out.out, out.err, logs, (model_folder / "README.md").read_text(), folders=[local], token=TOKEN)
    for stored in repo.files.values():
        assert TOKEN.encode() not in stored.data


def test_push_replaces_the_trainers_card_and_keeps_a_hand_written_one(hub, model_folder):
    from huggingface_hub import ModelCard

    from lima_hf.hub import push_model

    (model_folder / "README.md").write_text(  # what the trainer writes: TRL's card, tagged trl
        "---\nbase_model: HuggingFaceTB/SmolLM2-135M\ntags:\n- trl\n- sft\n---\n# Model Card for out\n")
    push_model(model_folder, "lima/trainer-card")
    card = ModelCard(hub.file_bytes("lima/trainer-card", "README.md").decode())
    assert "lima-hf" in card.data.tags and card.data.base_model == "HuggingFaceTB/SmolLM2-135M"

    (model_folder / "README.md").write_text("---\nlicense: mit\n---\n# My own card\n")
    push_model(model_folder, "lima/own-card")
    assert hub.file_bytes("lima/own-card", "README.md").decode().endswith("# My own card\n")

    (model_folder / "README.md").write_text("---\ntags: not-a-list\n---\n# bad\n")
    from lima_hf.hub import HubPushError

    with pytest.raises(HubPushError, match="Invalid metadata in README.md"):
        push_model(model_folder, "lima/bad-card")


def test_push_dataset_round_trip(hub, tmp_path):
    """The quickstart dataset as `lima-hf build-dataset` writes it, card included, pushed and loaded back."""
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    from lima_hf.data.builder import build_dataset, quickstart_config_path
    from lima_hf.hub import push_dataset

    folder = build_dataset(quickstart_config_path(), tmp_path / "lima-quickstart")
    result = push_dataset(folder, "lima/lima-quickstart")
    assert "lima/lima-quickstart" in result.repo_url

    local = _downloaded(hub, "lima/lima-quickstart", "dataset", tmp_path / "download")
    sent = [path for path in folder.rglob("*") if path.is_file() and path.name != ".lima-hf-output.json"]
    assert sent and all((local / p.relative_to(folder)).read_bytes() == p.read_bytes() for p in sent)
    assert hub.repo("lima/lima-quickstart", "dataset").files["data/default/train-00000-of-00001.parquet"].lfs
    card = DatasetCard.load(local / "README.md").data.to_dict()
    assert {c["config_name"] for c in card["configs"]} == {"default", "multi_turn"}
    loaded = load_dataset(str(local))
    original = load_dataset(str(folder))
    assert loaded["train"]["id"] == original["train"]["id"] and loaded["validation"].num_rows == original["validation"].num_rows
    multi_turn = [load_dataset(str(path), "multi_turn")["train"]["id"] for path in (local, folder)]
    assert multi_turn[0] == multi_turn[1] and multi_turn[0]


def test_push_dataset_rejects_a_card_without_configs(hub, tmp_path):
    from lima_hf.errors import InputError
    from lima_hf.hub import push_dataset

    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: mit\n---\n")
    with pytest.raises(InputError, match="declares no 'configs'"):
        push_dataset(folder, "lima/bad")
    (folder / "README.md").write_text(
        "---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files: data/train-*.parquet\n---\n")
    with pytest.raises(InputError, match="matches no file"):
        push_dataset(folder, "lima/bad")
    assert not hub.repos  # nothing was sent


def test_network_error_gives_clear_message_and_push_resumes(hub, model_folder, capsys):
    from lima_hf.cli import main

    hub.fail("POST", r"/commit/", status=None)  # the connection drops when committing, after the LFS upload
    code = main(["push", "model", str(model_folder), "--repo_id", "lima/resume"])
    err = capsys.readouterr().err
    assert code == 1
    assert "failed" in err and "run the same push command again to resume" in err
    assert "Traceback" not in err and TOKEN not in err
    assert hub.repo("lima/resume").files.keys() == {".gitattributes"}  # nothing committed
    uploads_before = hub.count("PUT", r"^/_lfs/")
    assert uploads_before > 0

    assert main(["push", "model", str(model_folder), "--repo_id", "lima/resume"]) == 0
    assert hub.count("PUT", r"^/_lfs/") == uploads_before  # LFS objects already there were not re-sent
    assert "model.safetensors" in hub.repo("lima/resume").files


def test_missing_token_and_unreachable_hub(monkeypatch, model_folder, tmp_path):
    from huggingface_hub import constants

    from lima_hf.hub import HubPushError, push_model

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(HubPushError, match="no Hugging Face token"):
        push_model(model_folder, "lima/x")
    with FakeHub() as server:
        url = server.url
    with pytest.raises(HubPushError, match="ConnectError.*run the same push command again"):
        push_model(model_folder, "lima/x", token=TOKEN, endpoint=url)


def test_push_rejects_folders_that_are_not_models(tmp_path):
    from lima_hf.errors import InputError
    from lima_hf.hub import push_model

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="missing model weights"):
        push_model(tmp_path, "lima/x")
    with pytest.raises(InputError, match="invalid repo_id"):
        push_model(tmp_path, "not a repo id")


def test_push_cli_usage_errors(capsys):
    from lima_hf.cli import main

    assert main(["push", "weights", "x"]) == 2
    assert "choose 'model' or 'dataset'" in capsys.readouterr().err
    assert main(["push", "model", "x"]) == 2
    assert "--repo_id is required" in capsys.readouterr().err


@pytest.mark.slow
def test_push_to_hub_in_a_recipe_uploads_through_the_trainer(hub, tiny_model, tmp_path, capsys):
    """`push_to_hub: true` in a recipe: the Trainer creates the repo and uploads the final model."""
    from lima_hf.cli import main

    model, tokenizer = tiny_model
    base = tmp_path / "tiny-base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"conversations": [f"Question {i}?", f"A short answer {i}."]}) + "\n"
                            for i in range(4)))
    recipe = Path(__file__).resolve().parent.parent / "recipes/smollm2-135m/sft/config_quickstart.yaml"
    code = main(["train", "--config", str(recipe), "--model_name_or_path", str(base), "--dataset_name", str(data),
                 "--output_dir", str(tmp_path / "out"), "--max_steps", "1", "--max_length", "32",
                 "--per_device_train_batch_size", "1", "--effective_batch_size", "1", "--save_strategy", "no",
                 "--disable_tqdm", "true", "--push_to_hub", "true", "--hub_model_id", "lima/pushed-by-trainer",
                 "--hub_private_repo", "true"])
    out = capsys.readouterr()
    assert code == 0, out.err
    repo = hub.repo("lima/pushed-by-trainer")
    assert repo.private and {"model.safetensors", "config.json", "chat_template.jinja", "README.md"} <= repo.files.keys()
    assert hub.file_bytes("lima/pushed-by-trainer", "model.safetensors") == (tmp_path / "out/model.safetensors").read_bytes()
    card = hub.file_bytes("lima/pushed-by-trainer", "README.md").decode()
    assert "pipeline_tag: text-generation" in card and "library_name: transformers" in card
    assert "Chat with it (plain `transformers`)" in card and "zhou2023lima" in card
    assert_no_token(out.out, out.err, folders=[tmp_path / "out"], token=TOKEN)


def test_card_metadata_base_model_and_model_index_parse_with_huggingface_hub(tmp_path):
    """base_model of a Hub-cache folder and model-index from lima-hf evaluate reports, read back by
    huggingface_hub's own parser."""
    from huggingface_hub import ModelCard

    from lima_hf.evaluation.reports import write_report
    from lima_hf.hub import base_model_id, build_model_card

    snapshot = tmp_path / "hub" / "models--org--base-model" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)

    reports = tmp_path / "reports"
    write_report(reports / "likert", "Helpfulness", {"kind": "likert", "systems": {
        "lima-tiny": {"mean": 4.25}, "other": {"mean": 3.0}}, "prompts": {"lima-tiny": "test split"}}, "| x |")
    write_report(reports / "pairwise", "Preference", {"kind": "pairwise", "system": "lima-tiny", "baselines": {
        "gpt4": {"rates": {"win": 0.25, "tie": 0.5, "loss": 0.25}}}}, "| x |")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")  # transformers 5 writes no _name_or_path
    card = build_model_card(tmp_path / "model", "lima/lima-tiny", base_model=base_model_id(snapshot),
                            evaluation_dir=reports)
    card.save(tmp_path / "README.md")
    data = ModelCard.load(tmp_path / "README.md").data
    assert data.base_model == "org/base-model"
    results = {(r.metric_type, r.metric_name): r.metric_value for r in data.eval_results}
    assert results == {("lima_likert", "helpfulness (1-6)"): 4.25,
                       ("lima_preference", "win rate vs gpt4"): 0.25,
                       ("lima_preference", "win or tie rate vs gpt4"): 0.75}
    assert {r.dataset_type for r in data.eval_results} == {"GAIR/lima"}
    assert data.to_dict()["model-index"][0]["name"] == "lima-tiny"
