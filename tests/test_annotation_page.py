"""The annotation page in a real headless browser (Debian's chromium + chromedriver, driven by Selenium):
an annotator labels three items, reloads and continues; a second annotator labels at the same time; the
labels are in SQLite (annotator, time) and in the report; no page names a system. Plus the database's
guarantees without a browser: concurrent writers, a restart, unique labels, other items refused."""

import json
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from lima_hf.cli import main
from lima_hf.errors import InputError
from lima_hf.evaluation.annotation.store import AnnotationStore
from lima_hf.evaluation.judges.base import LabelsPending
from lima_hf.evaluation.judges.people import PeopleJudge
from lima_hf.evaluation.protocols.likert import run_likert

SECRETS = ("lima-model-x", "gpt4-secret", "alpaca-secret", "ours_first", "baseline_first")


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def study(tmp_path):
    """A database with a pairwise task (3 pairs) and a Likert task (2 answers), as `evaluate` adds them."""
    ours = _write_jsonl(tmp_path / "ours.jsonl", [{"id": f"q{i}", "prompt": f"Question number {i}?",
                                                   "response": f"A careful answer to question {i}."} for i in range(3)])
    base = _write_jsonl(tmp_path / "base.jsonl", [{"id": f"q{i}", "prompt": f"Question number {i}?",
                                                   "response": f"meh {i}"} for i in range(3)])
    other = _write_jsonl(tmp_path / "other.jsonl", [{"id": f"l{i}", "prompt": f"Likert question {i}?",
                                                     "response": f"Likert answer {i}."} for i in range(2)])
    db = tmp_path / "study.db"
    pairwise = ["evaluate", "pairwise", "--responses", str(ours), "--name", "lima-model-x", "--baselines",
                f"gpt4-secret={base}", "--judge", "people", "--database", str(db), "--bootstrap", "10",
                "--output_dir", str(tmp_path / "pairwise")]
    likert = ["evaluate", "likert", "--responses", f"alpaca-secret={other}", "--judge", "people", "--database",
              str(db), "--output_dir", str(tmp_path / "likert")]
    assert main(pairwise) == 0 and main(likert) == 0
    return {"db": db, "pairwise": pairwise, "likert": likert, "tmp": tmp_path}


def test_store_is_safe_with_concurrent_annotators_and_a_restart(study):
    db = study["db"]
    with AnnotationStore(db) as store:
        assert [(t["protocol"], t["items"]) for t in store.tasks()] == [("pairwise", 3), ("likert", 2)]
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        item_ids = [r[0] for r in store.db.execute("SELECT id FROM items")]

    errors = []

    def annotate(name):
        try:
            with AnnotationStore(db) as own:  # its own connection, as each page request has
                for item_id in item_ids:
                    labels = json.loads(own.db.execute("SELECT t.labels FROM items i JOIN tasks t ON t.id = "
                                                       "i.task_id WHERE i.id = ?", (item_id,)).fetchone()[0])
                    own.add_label(item_id, name, labels[0])
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=annotate, args=(f"a{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with AnnotationStore(db) as store:  # a restart: a new connection sees everything
        assert store.db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 4 * len(item_ids)
        store.add_label(item_ids[0], "a0", "B better")  # labelling again replaces, never duplicates
        assert store.db.execute("SELECT COUNT(*) FROM labels WHERE annotator = 'a0'").fetchone()[0] == len(item_ids)
        with pytest.raises(ValueError, match="not one of"):
            store.add_label(item_ids[0], "a0", "C better")
        with pytest.raises(ValueError, match="annotator id"):
            store.next_item("no spaces allowed")
        with pytest.raises(sqlite3.IntegrityError):
            store.db.execute("INSERT INTO labels (item_id, annotator, label, created) VALUES (?, 'a1', 'x', 'now')",
                             (item_ids[1],))
    # the same task name with other answers is refused, not mixed in
    changed = _write_jsonl(study["tmp"] / "changed.jsonl", [{"id": "l0", "prompt": "?", "response": "new"},
                                                             {"id": "l1", "prompt": "?", "response": "new"}])
    with pytest.raises(InputError, match="other items"):
        run_likert({"alpaca-secret": changed}, study["tmp"] / "x", PeopleJudge(database=db), progress=False)


def _browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                                   else None)
    if not chromium or not driver_path:
        pytest.skip("needs Debian's chromium and chromium-driver packages (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install 'lima-hf[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1100,1200"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Page:
    """One annotator's browser on the page."""

    def __init__(self, driver, url):
        from selenium.webdriver.support.ui import WebDriverWait

        self.driver, self.url, self.wait = driver, url, WebDriverWait(driver, 60)
        self.seen = []

    def _text(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css).text

    def open(self):
        self.driver.get(self.url)
        self.wait.until(lambda d: "items labelled" in self._text("#progress"))

    def check_no_system_names(self):
        source = self.driver.page_source
        assert not [secret for secret in SECRETS if secret in source]

    def label(self, choose):
        """Label the item on screen with ``choose(item text, labels)``; return the item text."""
        from selenium.webdriver.common.by import By

        self.wait.until(lambda d: self._text("#item").startswith("Question") or "Thank you" in self._text("#item"))
        text, progress = self._text("#item"), self._text("#progress")
        options = self.driver.find_elements(By.CSS_SELECTOR, "#choice label")
        labels = [o.text for o in options]
        self.check_no_system_names()
        next(o for o in options if o.text == choose(text, labels)).click()
        self.driver.find_element(By.CSS_SELECTOR, "#submit").click()
        self.wait.until(lambda d: self._text("#progress") != progress)
        self.seen.append(text)
        return text


def _choose(text, labels):
    if "A better" in labels:  # prefer the careful answer, wherever it is shown
        first = text.split("Answer A")[1].split("Answer B")[0]
        return "A better" if "careful" in first else "B better"
    return "5"


@pytest.mark.slow
def test_two_annotators_label_in_a_real_browser_and_the_report_reads_them(study):
    pytest.importorskip("gradio", reason="needs gradio (pip install 'lima-hf[annotate]')")
    from lima_hf.evaluation.annotation.app import serve

    first_browser = _browser()  # skips here, before serving, where chromium or selenium is missing
    port = _free_port()
    app, _ = serve(study["db"], port=port, block=False)
    alice = bob = None
    try:
        alice = Page(first_browser, f"http://127.0.0.1:{port}/?annotator=alice")
        bob = Page(_browser(), f"http://127.0.0.1:{port}/?annotator=bob")
        alice.open()
        bob.open()
        assert "0 of 5 items labelled" in alice._text("#progress")
        for _ in range(3):  # both label at the same time, turn about
            alice.label(_choose)
            bob.label(_choose)
        alice.driver.refresh()  # reload: alice continues where she stopped
        alice.wait.until(lambda d: "3 of 5 items labelled" in alice._text("#progress"))
        alice.label(_choose)
        alice.label(_choose)
        assert "5 of 5" in alice._text("#progress") and "Thank you" in alice._text("#item")
        assert len(set(alice.seen)) == 5  # never the same item twice
        alice.check_no_system_names()
    finally:
        first_browser.quit()
        if bob is not None:
            bob.driver.quit()
        app.close()

    rows = sqlite3.connect(study["db"]).execute("SELECT annotator, label, created FROM labels").fetchall()
    assert sorted(r[0] for r in rows) == ["alice"] * 5 + ["bob"] * 3 and all(r[2] for r in rows)
    # the same reports as a model judge's, with the annotators' agreement
    assert main(study["pairwise"]) == 0
    figures = json.loads((study["tmp"] / "pairwise" / "report.json").read_text())
    assert figures["baselines"]["gpt4-secret"]["counts"] == {"win": 3, "tie": 0, "loss": 0, "unparsed": 0}
    assert figures["agreement"] == [{"raters": ["annotator: alice", "annotator: bob"], "items": 3, "score": 1.0}]
    assert main(study["likert"]) == 0
    likert = json.loads((study["tmp"] / "likert" / "report.json").read_text())["systems"]["alpaca-secret"]
    assert likert["n"] == 2 and likert["mean"] == 5.0


def test_people_judge_waits_until_someone_labels(study):
    with pytest.raises(LabelsPending, match="lima-hf annotate --database"):
        run_likert({"alpaca-secret": study["tmp"] / "other.jsonl"}, study["tmp"] / "y",
                   PeopleJudge(database=study["db"]), progress=False)


def test_gradio_is_imported_only_by_the_page():
    import subprocess
    import sys

    code = ("import sys, lima_hf, lima_hf.cli, lima_hf.evaluation.protocols, lima_hf.evaluation.judges, "
            "lima_hf.evaluation.annotation.store, lima_hf.commands.annotate, lima_hf.commands.evaluate; "
            "print('gradio' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
