"""Shared fixtures: offline mode, the real data in ../shared/data, the bundled model and tiny models."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# torch's OpenMP threads sleep instead of spinning while they wait (set before torch loads; subprocesses inherit it):
# on a busy 2-core machine a spinning thread holds a core the other one needs, and a tiny model's generate
# took 21.7 s of CPU instead of 0.9 s (tests/test_evaluation_processor.py, measured on the loaded machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real raw data folder (../shared/data beside the project); tests skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real raw data not found at {SHARED_DATA} (a checkout without ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def bundled_model() -> Path:
    """The converted bundled SmolLM2-135M-Instruct folder; skips when the demo extra is not installed."""
    from lima_hf._optional import MissingExtraError
    from lima_hf.models import bundled_model_path

    try:
        return bundled_model_path()
    except MissingExtraError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def bundled_tokenizer(bundled_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_model)


@pytest.fixture
def tiny_model(bundled_tokenizer):
    """A fresh tiny random LLaMA model and a fresh copy of the real SmolLM2 tokenizer."""
    import copy

    from lima_hf.models import tiny_llama

    return tiny_llama(copy.deepcopy(bundled_tokenizer))


@pytest.fixture
def model_folder(tmp_path, tiny_model):
    """The tiny model with the EOT chat format saved as ``lima-hf train`` leaves a final model: ``tmp_path/model``
    (weights, config, tokenizer)."""
    from lima_hf.chat import setup_eot_chat_format

    model, tokenizer = setup_eot_chat_format(*tiny_model)
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def user_files():
    """Register the user's files a test hands to a command: ``user_files(path, ...)`` records each file's
    ``(sha256, mode)`` (under a folder: every file); after the test body the test fails naming every registered
    file that changed, vanished or appeared (see faults_helpers.UserFiles). Outputs are not registered, only what
    the command reads or must leave alone."""
    from faults_helpers import UserFiles

    return UserFiles()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test that passed with ``user_files`` fails if a registered file changed (a failure, not a teardown error)."""
    result = yield
    guard = getattr(item, "funcargs", {}).get("user_files")
    if guard is not None:
        guard.check()
    return result


@pytest.fixture
def token_in_environment(request, monkeypatch, tmp_path, caplog):
    """The fault tests' Hub token in HF_TOKEN for the whole test, traceback logs under ``tmp_path``; afterwards the
    token is in nothing printed to the test's capsys or capfd (read by the test or left there), no log record and no
    file under ``tmp_path`` (outputs and logs alike)."""
    from faults_helpers import TOKEN, assert_no_token

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("LIMA_HF_LOG_DIR", str(tmp_path / "logs"))
    printed, read = [], pytest.CaptureFixture.readouterr

    def recording(capture):  # what the test reads from capsys or capfd
        out = read(capture)
        printed.extend(out)
        return out

    monkeypatch.setattr(pytest.CaptureFixture, "readouterr", recording)
    yield
    for name in ("capsys", "capfd"):  # and what it left unread
        if name in request.node.funcargs:
            printed.extend(read(request.node.funcargs[name]))
    assert_no_token(*printed, *(record.getMessage() for record in caplog.records), folders=[tmp_path])
