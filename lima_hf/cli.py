"""The ``lima-hf`` console command: ``lima-hf <command> [--config RECIPE.yaml] [--option value ...]``."""

from __future__ import annotations

import importlib
import sys

from lima_hf._optional import MissingExtraError
from lima_hf.errors import ConfigError
from lima_hf.io import InputError

# name -> (module with a ``main(argv) -> int``, one-line help). Modules are imported only when run.
COMMANDS: dict[str, tuple[str, str]] = {
    "quickstart": ("lima_hf.commands.quickstart", "run the whole pipeline on the bundled defaults (CPU, minutes)"),
    "curate": ("lima_hf.commands.curate", "curate one raw source (stackexchange, wikihow, reddit, ...) into records"),
    "build-dataset": ("lima_hf.commands.build_dataset", "compose the LIMA dataset from its sources into a Hub-ready folder"),
    "select": ("lima_hf.commands.select", "pick a small, diverse, high-quality training set from a large pool"),
    "train": ("lima_hf.commands.train", "fine-tune a model with LIMA's recipe (LimaSFTTrainer) from a YAML recipe"),
    "merge": ("lima_hf.commands.merge", "merge a LoRA/QLoRA adapter into its base model (a plain transformers model)"),
    "select-checkpoint": ("lima_hf.commands.select_checkpoint", "pick the best epoch checkpoint on the dev set"),
    "generate": ("lima_hf.commands.generate", "answer a prompt set with LIMA's sampling (resumable JSONL)"),
    "evaluate": ("lima_hf.commands.evaluate", "judge answers: pairwise, Likert 1-6, absolute rating, multi-turn"),
    "annotate": ("lima_hf.commands.annotate", "serve the annotation page for people's labels (Gradio, SQLite)"),
    "push": ("lima_hf.commands.push", "upload a trained model or a built dataset to the Hugging Face Hub with its card"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    rows = "\n".join(f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items())
    return (
        "usage: lima-hf <command> [--config RECIPE.yaml] [options]\n\n"
        f"commands:\n{rows}\n\n"
        "Run `lima-hf <command> --help` for a command's options."
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lima-hf`` command; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from lima_hf import __version__

        print(f"lima-hf {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"lima-hf: error: unknown command '{name}' (choose from {', '.join(COMMANDS)})", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(rest) or 0)
    except (ConfigError, MissingExtraError) as err:  # usage errors, CLIError included
        print(f"lima-hf {name}: error: {err}", file=sys.stderr)
        return 2
    except InputError as err:
        print(f"lima-hf {name}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"lima-hf {name}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
