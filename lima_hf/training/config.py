"""``LimaSFTConfig``: TRL's ``SFTConfig`` with the defaults of the LIMA paper (Zhou et al. 2023, section 2).

AdamW with b1=0.9, b2=0.95 and weight decay 0.1; 15 epochs; learning rate 1e-5 decaying linearly to 1e-6
with no warmup; 32 examples per optimizer step (the paper uses 64 for the smaller models), reached by
gradient accumulation on however many devices there are; texts trimmed to 2,048 tokens; loss on the
assistant's tokens only; a checkpoint at the end of every epoch (the paper picks one between epochs 5 and
10); residual dropout rising from 0.0 at the bottom layer to 0.3 at the top (0.2 for smaller models).

Every field can be overridden from a recipe or the command line. bfloat16 is on when a GPU is present and off
on a CPU unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from trl import SFTConfig

from lima_hf.chat import DEFAULT_EOT_INIT, DEFAULT_EOT_TOKEN, EOT_INITS
from lima_hf.training.residual_dropout import SCHEDULES


@dataclass
class LimaSFTConfig(SFTConfig):
    """Configuration of :class:`~lima_hf.training.trainer.LimaSFTTrainer`; defaults follow the LIMA paper."""

    # Optimisation (paper: AdamW b1 0.9, b2 0.95, weight decay 0.1, lr 1e-5 -> 1e-6 linearly, no warmup)
    learning_rate: float = field(default=1e-5, metadata={"help": "Initial (peak) learning rate of AdamW. LIMA: 1e-5."})
    final_learning_rate: float | None = field(
        default=1e-6,
        metadata={
            "help": "Learning rate reached at the last optimizer step of the linear decay (LIMA: 1e-6). Applies "
            "when lr_scheduler_type is 'linear'; null decays to 0 as transformers' linear schedule does."
        },
    )
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1. LIMA: 0.9."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW beta2. LIMA: 0.95."})
    weight_decay: float = field(
        default=0.1, metadata={"help": "AdamW weight decay (not applied to biases and norms). LIMA: 0.1."}
    )
    num_train_epochs: float = field(default=15.0, metadata={"help": "Number of training epochs. LIMA: 15."})
    logging_steps: float = field(
        default=1,
        metadata={"help": "Log every this many optimizer steps (a float below 1 is a fraction of all steps)."},
    )

    # Batch (paper: 32 examples per step, 64 for the smaller models)
    per_device_train_batch_size: int = field(
        default=4, metadata={"help": "Examples per device per forward pass (micro-batch)."}
    )
    effective_batch_size: int | None = field(
        default=32,
        metadata={
            "help": "Examples per optimizer step across all devices (LIMA: 32; 64 for the smaller models). "
            "gradient_accumulation_steps is set to effective_batch_size / (per_device_train_batch_size x "
            "number of processes), which must divide evenly. null: use gradient_accumulation_steps as given. "
            "With packing, a packed sequence counts as one example."
        },
    )

    # Data (paper: texts longer than 2,048 tokens are trimmed; loss on the responses)
    max_length: int | None = field(
        default=2048,
        metadata={"help": "Tokens per training text; longer texts are trimmed (keep the start). LIMA: 2048."},
    )
    assistant_only_loss: bool = field(
        default=True,
        metadata={"help": "Compute the loss on the assistant's tokens (and their end-of-turn token) only."},
    )
    eot_token: str = field(
        default=DEFAULT_EOT_TOKEN,
        metadata={
            "help": "End-of-turn token put after every utterance (LIMA's EOT); added as a special token when the "
            "tokenizer lacks it. An existing special token such as '<|im_end|>' can be reused."
        },
    )
    eot_init: str = field(
        default=DEFAULT_EOT_INIT,
        metadata={
            "help": "How a newly added end-of-turn token's embedding starts (input and output rows): 'eos' copies "
            "the model's own end token (the tokenizer's EOS: '<|im_end|>' for SmolLM2, '</s>' for LLaMA), the "
            "output row scaled by 1.15, so the model predicts the EOT, ahead of its old end token, where it used "
            "to end its text and learns to stop in a few dozen steps; "
            "'mean' starts it at the mean of all rows, which short runs cannot move far enough to stop (see "
            "docs/chat.md). Either way the EOT stays a token of its own, trained apart from the EOS.",
            "choices": list(EOT_INITS),
        },
    )
    train_embeddings: bool = field(
        default=True,
        metadata={
            "help": "Train the token embedding matrix (and the output layer tied to it). false freezes it and "
            "trains every other weight: the new EOT rows keep their eot_init start, which with 'eos' already "
            "ends replies where the model ended its text. For models whose vocabulary is most of their weights "
            "(Gemma 3 270M: 168M of 268M), a step then costs about 40% less (measured in docs/chat.md)."
        },
    )

    # Checkpoints (paper: one per epoch, chosen between epochs 5 and 10 on the dev set)
    save_strategy: str = field(
        default="epoch",
        metadata={"help": "When to save a checkpoint: 'epoch' (LIMA: every epoch end), 'steps', 'best' or 'no'."},
    )

    # Residual dropout (paper: 0.0 at the bottom layer to 0.3 at the top, 0.2 for the smaller models)
    residual_dropout: float = field(
        default=0.3,
        metadata={
            "help": "Residual dropout rate at the top decoder layer (LIMA: 0.3 for 65B, 0.2 for smaller models); "
            "0 disables it."
        },
    )
    residual_dropout_schedule: str = field(
        default="linear",
        metadata={
            "help": "How the rate varies with depth: 'linear' (0.0 at the bottom layer up to residual_dropout at "
            "the top, as in LIMA) or 'constant'.",
            "choices": list(SCHEDULES),
        },
    )

    bf16: bool | None = field(
        default=None,
        metadata={
            "help": "Train in bfloat16 mixed precision. null: on when an accelerator (GPU) is present and use_cpu "
            "is off, off on a CPU."
        },
    )

    activation_checkpointing: bool | None = field(
        default=True,
        metadata={"help": "Recompute activations in the backward pass to save memory (gradient checkpointing)."},
    )
    gradient_checkpointing: bool | None = field(
        default=None,
        metadata={"help": "Older name of activation_checkpointing; when set, it wins."},
    )

    def __post_init__(self):
        if self.gradient_checkpointing is not None:  # transformers warns about the old name; honour it quietly
            self.activation_checkpointing, self.gradient_checkpointing = self.gradient_checkpointing, None
        from lima_hf.compat import checkpointing_under_old_name

        checkpointing_under_old_name(self)
        if self.bf16 is None and not self.fp16 and (self.use_cpu or not torch.accelerator.is_available()):
            self.bf16 = False
        super().__post_init__()
        if self.residual_dropout_schedule not in SCHEDULES:
            raise ValueError(
                f"residual_dropout_schedule must be one of {', '.join(SCHEDULES)}, got {self.residual_dropout_schedule!r}"
            )
        if self.eot_init not in EOT_INITS:
            raise ValueError(f"eot_init must be one of {', '.join(EOT_INITS)}, got {self.eot_init!r}")
        if not 0.0 <= self.residual_dropout <= 1.0:
            raise ValueError(f"residual_dropout must be in [0, 1], got {self.residual_dropout}")
        if self.final_learning_rate is not None and not 0.0 <= self.final_learning_rate <= self.learning_rate:
            raise ValueError(
                f"final_learning_rate ({self.final_learning_rate}) must be between 0 and learning_rate "
                f"({self.learning_rate})"
            )
        if self.effective_batch_size is not None:
            self.gradient_accumulation_steps = self._accumulation_steps()

    def _accumulation_steps(self) -> int:
        per_step = self.per_device_train_batch_size * self.world_size
        if self.effective_batch_size <= 0 or self.effective_batch_size % per_step:
            raise ValueError(
                f"effective_batch_size {self.effective_batch_size} is not a positive multiple of "
                f"per_device_train_batch_size x processes = {self.per_device_train_batch_size} x {self.world_size}; "
                "change one of them, or set effective_batch_size to null and gradient_accumulation_steps directly"
            )
        steps = self.effective_batch_size // per_step
        if self.gradient_accumulation_steps not in (1, steps):
            raise ValueError(
                f"gradient_accumulation_steps={self.gradient_accumulation_steps} contradicts effective_batch_size="
                f"{self.effective_batch_size} (which gives {steps} with {self.world_size} process(es)); set "
                "effective_batch_size to null to choose gradient_accumulation_steps yourself"
            )
        return steps
