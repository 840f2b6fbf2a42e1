"""The checks every fault test relies on: ``user_files`` notices a changed byte, a changed mode, a removed file and a
new one among the registered files, and fails the test that made the change (not only reports it);
``token_in_environment`` fails a test that printed the token, whether the test read the output or not."""

import os
from pathlib import Path

import pytest
from faults_helpers import UserFiles

pytest_plugins = ["pytester"]


def test_changes_name_content_mode_removed_and_new_files(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    for name in ("a.jsonl", "b.jsonl", "card.md"):
        (folder / name).write_text(name)
    config = tmp_path / "config.yaml"
    config.write_text("seed: 1\n")
    os.chmod(config, 0o644)
    files = UserFiles()
    assert files(folder, config, written=[folder / "card.md"]) == (folder, config)
    assert files.changes() == []
    (folder / "card.md").write_text("the command's own card")  # named as written: not a change
    (folder / "a.jsonl").write_text("A.jsonl")
    os.chmod(config, 0o600)
    (folder / "b.jsonl").unlink()
    (folder / "new.jsonl").write_text("")
    assert files.changes() == [f"{config}: mode 0o644 -> 0o600", f"{folder / 'a.jsonl'}: content",
                               f"{folder / 'b.jsonl'}: removed", f"{folder / 'new.jsonl'}: new file"]
    with pytest.raises(AssertionError, match=r"(?s)the user's files changed:.*a.jsonl: content"):
        files.check()
    files(folder, config)  # registered anew after an edit the test makes on purpose
    files.check()


def test_the_fixture_fails_the_test_that_changed_a_registered_file(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # the inner run needs none of the installed plugins
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.syspathinsert(Path(__file__).parent)
    pytester.makepyfile(test_user="""
        import os

        def test_content(tmp_path, user_files):
            (tmp_path / "data.jsonl").write_text("mine")
            user_files(tmp_path / "data.jsonl")
            (tmp_path / "data.jsonl").write_text("overwritten")

        def test_mode(tmp_path, user_files):
            (tmp_path / "data.jsonl").write_text("mine")
            os.chmod(tmp_path / "data.jsonl", 0o644)
            user_files(tmp_path)
            os.chmod(tmp_path / "data.jsonl", 0o600)

        def test_untouched(tmp_path, user_files):
            (tmp_path / "data.jsonl").write_text("mine")
            user_files(tmp_path)

        def test_token_read_from_capsys(token_in_environment, capsys):
            print("Bearer", os.environ["HF_TOKEN"])
            capsys.readouterr()

        def test_token_left_in_capfd(token_in_environment, capfd):
            os.write(2, os.environ["HF_TOKEN"].encode())
    """)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=2, errors=2)
    result.stdout.fnmatch_lines(["*data.jsonl: content*", "*data.jsonl: mode 0o644 -> 0o600*"])
    assert result.stdout.str().count("ERROR at teardown of test_token_") == 2
