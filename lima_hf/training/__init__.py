"""LIMA's training setup on TRL: residual dropout, :class:`LimaSFTConfig`, :class:`LimaSFTTrainer`, ``train``.

Names are imported lazily, so that the residual-dropout functions do not pull in TRL.
"""

from lima_hf._lazy import lazy_exports

_LAZY = {
    "RESIDUAL_LAYOUTS": "lima_hf.training.residual_dropout",
    "ResidualLayout": "lima_hf.training.residual_dropout",
    "apply_residual_dropout": "lima_hf.training.residual_dropout",
    "remove_residual_dropout": "lima_hf.training.residual_dropout",
    "residual_dropout_rates": "lima_hf.training.residual_dropout",
    "LimaSFTConfig": "lima_hf.training.config",
    "LimaSFTTrainer": "lima_hf.training.trainer",
    "linear_schedule_with_floor": "lima_hf.training.trainer",
    "LimaScriptArguments": "lima_hf.training.script",
    "train": "lima_hf.training.script",
    "load_adapter": "lima_hf.training.lora",
    "merge_adapter": "lima_hf.training.lora",
}

__all__ = [
    "RESIDUAL_LAYOUTS",
    "LimaSFTConfig",
    "LimaSFTTrainer",
    "LimaScriptArguments",
    "ResidualLayout",
    "apply_residual_dropout",
    "linear_schedule_with_floor",
    "load_adapter",
    "merge_adapter",
    "remove_residual_dropout",
    "residual_dropout_rates",
    "train",
]

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
