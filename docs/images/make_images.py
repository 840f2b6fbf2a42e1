"""Re-make the images of docs/evaluation.md: one report plot per protocol and a screenshot of the page.

    python docs/images/make_images.py [--work_dir DIR]   # CPU; needs the annotate extra and chromium

Everything is a real run of lima-hf on the bundled SmolLM2-135M-Instruct, on purpose small: "long" answers
(up to 96 new tokens; 40 in dialogues) against "short" ones (up to 24; 12 in dialogues) of the same model on
8 questions and on the first 6 dialogues of recipes/llama-65b/sft/dialogues.jsonl, judged by the same 135M
model in `choice` mode. A 135M judge is a weak judge: the images show what the reports look like, not a
finding. Generation resumes in --work_dir.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
QUESTIONS = [
    "How do I keep basil alive on a windowsill?",
    "Explain what a mortgage is in two paragraphs.",
    "Write a short thank-you note to a neighbour who watered my plants.",
    "What are the main causes of inflation?",
    "How can I get better at remembering people's names?",
    "Give me three ideas for a rainy Sunday with kids.",
    "What is the difference between a virus and a bacterium?",
    "How do I politely decline a meeting invitation?",
]


def lima_hf(*args):
    subprocess.run([sys.executable, "-m", "lima_hf.cli", *map(str, args)], check=True, cwd=REPO)


def small_png(source: Path, target: Path, width: int = 900) -> None:
    from PIL import Image

    image = Image.open(source).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(target, optimize=True)


def screenshot(database: Path, target: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.support.ui import WebDriverWait

    from lima_hf.evaluation.annotation.app import serve

    app, url = serve(database, port=7861, block=False)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1150"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")),
                              options=options)
    try:
        driver.get(url + "?annotator=alice")
        WebDriverWait(driver, 60).until(lambda d: "Answer B" in d.find_element("css selector", "#item").text)
        shot = target.with_suffix(".full.png")
        driver.save_screenshot(str(shot))
        small_png(shot, target, width=800)
        shot.unlink()
    finally:
        driver.quit()
        app.close()


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work_dir", type=Path, default=None, help="where answers and reports go (resumed)")
    work = parser.parse_args().work_dir or Path(tempfile.mkdtemp(prefix="lima-docs-"))
    work.mkdir(parents=True, exist_ok=True)
    prompts = work / "questions.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"q{i}", "prompt": q}) + "\n" for i, q in enumerate(QUESTIONS)))
    dialogues = REPO / "recipes/llama-65b/sft/dialogues.jsonl"
    for name, tokens, dialogue_tokens in (("long", 96, 40), ("short", 24, 12)):
        lima_hf("generate", "--model", "bundled", "--prompts", prompts, "--output", work / f"{name}.jsonl",
                "--max_new_tokens", tokens, "--batch_size", 8)
        lima_hf("generate", "--model", "bundled", "--prompts", dialogues, "--limit", 6, "--output",
                work / f"{name}-dialogues.jsonl", "--max_new_tokens", dialogue_tokens, "--batch_size", 6)
    from lima_hf.models import bundled_model_path

    judge = ["--judge", "local", "--judge_model", bundled_model_path(), "--judge_mode", "choice"]
    reports = work / "reports"
    lima_hf("evaluate", "pairwise", "--responses", work / "long.jsonl", "--name", "long", "--baselines",
            f"short={work / 'short.jsonl'}", *judge, "--output_dir", reports / "pairwise")
    lima_hf("evaluate", "likert", "--responses", f"long={work / 'long.jsonl'}", f"short={work / 'short.jsonl'}", *judge,
            "--output_dir", reports / "likert")
    lima_hf("evaluate", "absolute", "--responses", f"long={work / 'long.jsonl'}", f"short={work / 'short.jsonl'}",
            *judge, "--sample_size", 8, "--output_dir", reports / "absolute")
    lima_hf("evaluate", "multi-turn", "--responses", f"long={work / 'long-dialogues.jsonl'}",
            f"short={work / 'short-dialogues.jsonl'}", *judge, "--output_dir", reports / "multi-turn")
    for folder, plot in (("pairwise", "preference"), ("likert", "likert"), ("absolute", "absolute"),
                         ("multi-turn", "multi_turn")):
        small_png(reports / folder / f"{plot}.png", HERE / f"report_{plot}.png")
    database = work / "study.db"
    lima_hf("evaluate", "pairwise", "--responses", work / "long.jsonl", "--name", "long", "--baselines",
            f"short={work / 'short.jsonl'}", "--judge", "people", "--database", database, "--output_dir",
            reports / "people")
    screenshot(database, HERE / "annotation_page.png")
    print(f"images in {HERE}; runs in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
