"""lima-hf: LIMA (Less Is More for Alignment, Zhou et al. 2023) for the Hugging Face ecosystem.

Public names are imported lazily so that ``import lima_hf`` stays cheap and works without the heavy
optional extras (deepspeed, gguf, sentence-transformers) installed.
"""

from lima_hf._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    # chat template (EOT after every utterance)
    "EOT_CHAT_TEMPLATE": "lima_hf.chat",
    "setup_eot_chat_format": "lima_hf.chat",
    "DEFAULT_EOT_TOKEN": "lima_hf.chat",
    "build_eot_chat_template": "lima_hf.chat",
    "check_eot_chat_format": "lima_hf.chat",
    # training
    "apply_residual_dropout": "lima_hf.training.residual_dropout",
    "remove_residual_dropout": "lima_hf.training.residual_dropout",
    "residual_dropout_rates": "lima_hf.training.residual_dropout",
    "LimaSFTConfig": "lima_hf.training.config",
    "LimaSFTTrainer": "lima_hf.training.trainer",
    # data
    "LimaBuilder": "lima_hf.data.builder",
    "build_dataset": "lima_hf.data.builder",
    "load_lima_dataset": "lima_hf.data.loading",
    # automatic selection
    "select_records": "lima_hf.data.selection",
    "SelectionConfig": "lima_hf.data.selection",
    # evaluation
    "generate_responses": "lima_hf.evaluation.generation",
    "select_checkpoint": "lima_hf.evaluation.checkpoint_selection",
    # the Hub
    "push_model": "lima_hf.hub",
    "push_dataset": "lima_hf.hub",
    # bundled models
    "bundled_model_path": "lima_hf.models",
    "tiny_llama": "lima_hf.models",
}

__all__ = sorted(_LAZY) + ["__version__"]

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
