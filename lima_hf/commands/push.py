"""``lima-hf push model DIR --repo_id ORG/NAME`` and ``lima-hf push dataset DIR --repo_id ORG/NAME``.

The token comes from ``HF_TOKEN`` or ``hf auth login`` (there is deliberately no ``--token`` option: a
token on the command line ends up in shell history and process listings).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from lima_hf.cli_args import CLIError, parse_args

USAGE = "usage: lima-hf push {model,dataset} DIR --repo_id NAMESPACE/NAME [options]"


@dataclass
class PushArguments:
    """Options shared by ``push model`` and ``push dataset``."""

    folder: str = field(default=None, metadata={"help": "Folder to upload (also accepted as the first positional argument)."})
    repo_id: str = field(default=None, metadata={"help": "Hub repository, 'namespace/name' (created if missing)."})
    private: bool = field(default=False, metadata={"help": "Create the repository as private."})
    revision: str = field(default=None, metadata={"help": "Branch to push to (default: main)."})
    commit_message: str = field(default=None, metadata={"help": "Commit message on the Hub."})


@dataclass
class ModelCardArguments:
    """What the model card says (``push model`` only)."""

    base_model: str = field(
        default=None, metadata={"help": "Hub id of the base model (default: from the trainer's card or config.json)."}
    )
    datasets: list[str] = field(default_factory=list, metadata={"help": "Hub ids of the training datasets."})
    license: str = field(default=None, metadata={"help": "License id for the card (that of the base model and data)."})
    tags: list[str] = field(default_factory=list, metadata={"help": "Extra card tags."})
    evaluation_dir: str = field(
        default=None, metadata={"help": "A report folder written by `lima-hf evaluate`: its results go into the card."}
    )
    model_card: bool = field(default=True, metadata={"help": "Write README.md with a model card before uploading."})
    overwrite_card: bool = field(default=False, metadata={"help": "Replace a hand-written README.md."})


def main(argv: list[str]) -> int:
    from lima_hf.hub import HubPushError, push_dataset, push_model

    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    kind, rest = argv[0], list(argv[1:])
    if kind not in ("model", "dataset"):
        raise CLIError(f"unknown push target {kind!r}: choose 'model' or 'dataset' ({USAGE})")
    if rest and not rest[0].startswith("-"):
        rest = ["--folder", rest[0], *rest[1:]]
    prog = f"lima-hf push {kind}"
    if kind == "model":
        args, card = parse_args([PushArguments, ModelCardArguments], rest, prog=prog)
    else:
        (args,) = parse_args([PushArguments], rest, prog=prog)
    if not args.folder:
        raise CLIError(f"{prog}: the folder to upload is missing ({USAGE})")
    if not args.repo_id:
        raise CLIError(f"{prog}: --repo_id is required ({USAGE})")
    common = {"private": args.private, "revision": args.revision}
    if args.commit_message:
        common["commit_message"] = args.commit_message
    try:
        if kind == "model":
            result = push_model(
                args.folder, args.repo_id, base_model=card.base_model, datasets=card.datasets, license=card.license,
                tags=card.tags, evaluation_dir=card.evaluation_dir, model_card=card.model_card,
                overwrite_card=card.overwrite_card, **common,
            )
        else:
            result = push_dataset(args.folder, args.repo_id, **common)
    except HubPushError as err:
        from lima_hf.redaction import redact

        print(f"{prog}: error: {redact(err)}", file=sys.stderr)
        return 1
    print(f"pushed {len(result.files)} files to {result.repo_url}")
    print(f"commit: {result.commit_url}")
    return 0
