"""The ``lima-hf`` console command: ``lima-hf <command> [--config RECIPE.yaml] [--option value ...]``."""

from __future__ import annotations

import datetime
import importlib
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path

from lima_hf.errors import ConfigError, LimaError
from lima_hf.redaction import redact, redacted_output

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
    "export": ("lima_hf.commands.export", "write answers for other harnesses: AlpacaEval model_outputs.json, MT-Bench"),
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


def log_dir() -> Path:
    """Where the traceback of an unexpected error is written (``$LIMA_HF_LOG_DIR``, else a temp folder)."""
    return Path(os.environ.get("LIMA_HF_LOG_DIR") or Path(tempfile.gettempdir()) / "lima-hf-logs")


def _write_traceback(name: str, err: BaseException) -> Path | None:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = redact("".join(traceback.format_exception(type(err), err, err.__traceback__)))
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"lima-hf-{name}-{stamp}-{os.getpid()}.log"
        path.write_text(f"lima-hf {name}\n{text}", encoding="utf-8")
    except OSError:
        return None
    return path


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return redact(text or type(err).__name__)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lima-hf`` command; returns the process exit code.

    The error boundary: usage errors print one line and exit 2; bad input, refused outputs, an unavailable
    judge or a failed push print one line and exit 1; anything else prints a one-line summary and the path
    of a log holding the traceback (``--debug`` shows the traceback instead). Everything printed or logged during
    the command, by lima-hf or by any library, passes the redactor (:func:`lima_hf.redaction.redacted_output`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
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
    with redacted_output():
        if not debug:
            _quiet_unneeded_warnings()
        return _run(name, rest, debug)


def _not_the_gemm_4bit_notice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Failed to load CPU gemm_4bit_forward")


def _quiet_unneeded_warnings() -> None:
    """Drop third-party warnings about things no lima-hf command needs (``--debug`` keeps them)."""
    # peft imports bitsandbytes, whose CPU backend asks the Hub for an optional 4-bit kernel at import and warns when
    # it cannot have it; bitsandbytes then uses its own CPU code, and only 4-bit (QLoRA) training uses either.
    noisy = logging.getLogger("bitsandbytes.backends.cpu.ops")
    if _not_the_gemm_4bit_notice not in noisy.filters:
        noisy.addFilter(_not_the_gemm_4bit_notice)


def _run(name: str, rest: list[str], debug: bool) -> int:
    try:
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(rest) or 0)
    except ConfigError as err:  # usage errors: CLIError and MissingExtraError included
        print(f"lima-hf {name}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lima-hf {name}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except LimaError as err:  # bad input, refused output, unavailable judge, failed push: the errors.py family
        print(f"lima-hf {name}: error: {_one_line(err)}", file=sys.stderr)
        if debug:
            print(redact("".join(traceback.format_exception(type(err), err, err.__traceback__))), file=sys.stderr)
        return 1
    except Exception as err:
        if debug:
            print(redact("".join(traceback.format_exception(type(err), err, err.__traceback__))), file=sys.stderr)
            print(f"lima-hf {name}: unexpected error: {type(err).__name__}: {_one_line(err)}", file=sys.stderr)
            return 1
        log = _write_traceback(name, err)
        where = f"traceback in {log}" if log else "could not write the traceback log"
        print(
            f"lima-hf {name}: unexpected error: {type(err).__name__}: {_one_line(err)} ({where}; "
            "run again with --debug to show it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
