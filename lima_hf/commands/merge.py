"""``lima-hf merge ADAPTER --output_dir MERGED``: merge a LoRA/QLoRA adapter into its base model.

    lima-hf merge outputs/llama-65b-lima-qlora --output_dir outputs/llama-65b-lima-merged --dtype bfloat16

The result is a plain ``transformers`` model folder (weights, tokenizer with ``<|eot|>`` and the chat template,
a generation config that stops at ``<|eot|>``) that loads and chats without peft or lima-hf. The base model is
the adapter's ``base_model_name_or_path`` unless ``--base_model`` names another copy of it; it is loaded
unquantized, also for a QLoRA adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lima_hf.cli_args import CLIError, parse_args


@dataclass
class MergeArguments:
    """The adapter, its base model and where the merged model goes."""

    adapter: str = field(
        default=None,
        metadata={"help": "Adapter folder written by `lima-hf train` with use_peft (also the first positional argument)."},
    )
    output_dir: str = field(default=None, metadata={"help": "New folder for the merged model."})
    base_model: str = field(
        default=None, metadata={"help": "Base model path or Hub id (default: the adapter's base_model_name_or_path)."}
    )
    dtype: str = field(
        default="auto", metadata={"help": "dtype to load the base model in and save the merged model with ('auto': as saved)."}
    )


def main(argv: list[str]) -> int:
    argv = list(argv)
    if argv and not argv[0].startswith("-"):
        argv = ["--adapter", argv[0], *argv[1:]]
    (args,) = parse_args([MergeArguments], argv, prog="lima-hf merge")
    if not args.adapter or not args.output_dir:
        raise CLIError("usage: lima-hf merge ADAPTER --output_dir MERGED [--base_model BASE] [--dtype bfloat16]")
    from lima_hf.training.lora import is_adapter_folder, merge_adapter

    if not is_adapter_folder(args.adapter):
        raise CLIError(f"{args.adapter}: not an adapter folder (no adapter_config.json)")
    folder = merge_adapter(args.adapter, args.output_dir, base_model=args.base_model, dtype=args.dtype)
    print(f"lima-hf merge: merged model saved to {folder}")
    return 0
