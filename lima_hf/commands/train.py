"""``lima-hf train``: fine-tune a model with LIMA's recipe (``LimaSFTTrainer``) from a YAML recipe.

Recipes look like TRL's and the alignment handbook's: one flat mapping of ``LimaScriptArguments`` (the data),
``LimaSFTConfig`` (the training) and ``trl.ModelConfig`` (the model) fields; command-line options override
it. Runs the same on one process and under ``accelerate launch``:

    lima-hf train --config recipes/smollm2-135m/sft/config_lima.yaml
    accelerate launch --num_processes 8 -m lima_hf.cli train --config RECIPE.yaml --output_dir runs/lima
"""

from __future__ import annotations

from lima_hf.cli_args import parse_args
from lima_hf.training.script import LimaScriptArguments, run


def parse_train_args(argv: list[str]) -> tuple:
    """Parse ``--config RECIPE`` plus overrides into ``(LimaScriptArguments, LimaSFTConfig, trl.ModelConfig)``."""
    from trl import ModelConfig

    from lima_hf.training.config import LimaSFTConfig

    return parse_args([LimaScriptArguments, LimaSFTConfig, ModelConfig], argv, prog="lima-hf train")


def main(argv: list[str]) -> int:
    script_args, training_args, model_args = parse_train_args(argv)
    run(script_args, training_args, model_args)
    return 0
