"""LIMA's chat format: a dedicated end-of-turn (EOT) token after every utterance.

LIMA (Zhou et al., 2023) marks the end of each utterance, the user's and the assistant's, with a special EOT
token that plays the role of EOS for halting generation without clashing with whatever EOS meant to the
pretrained model. Speakers are told apart by turn order (user, assistant, user, ...), not by role headers.

:data:`EOT_CHAT_TEMPLATE` is that format as a ``transformers`` chat template, with ``{% generation %}``
markers around every assistant message *and its EOT*, so TRL's ``assistant_only_loss`` trains the model to
emit the EOT. :func:`setup_eot_chat_format` prepares a model and its tokenizer together (EOT token,
embeddings, template, stop tokens, pad token); everything it changes is saved by ``save_pretrained``, so the
trained model chats and stops with plain ``transformers``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

DEFAULT_EOT_TOKEN = "<|eot|>"

EOT_INITS = ("eos", "mean")
"""How a new EOT embedding row starts (:func:`setup_eot_chat_format`'s ``eot_init``)."""
DEFAULT_EOT_INIT = "eos"
EOT_COPY_SCALE = 1.15
"""``eot_init="eos"`` scales the copied output row by this: the EOT's logit is then 1.15 times the old end
token's, so where the model would end its text the EOT outranks the old end token from the first step
(on SmolLM2's held-out reply ends, P(EOT) 0.996 instead of 0.11 for a plain copy)."""

_EOT_LINE = re.compile(r'\{%- set eot_token = ("(?:[^"\\]|\\.)*") -%\}')

_TEMPLATE = """\
{#- LIMA chat format (lima-hf): every utterance ends with the end-of-turn token; speakers alternate
    user, assistant, user, ... An optional first system message is prepended to the first user message. -#}
{%- set eot_token = __EOT__ -%}
{%- set user_header = __USER_HEADER__ -%}
{%- set assistant_header = __ASSISTANT_HEADER__ -%}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages | length < 2 or messages[1]['role'] != 'user' -%}
        {{- raise_exception('LIMA chat format: a system message must be followed by a user message') -}}
    {%- endif -%}
    {%- set system_prefix = messages[0]['content'] ~ '\\n\\n' -%}
    {%- set turns = messages[1:] -%}
    {%- set offset = 1 -%}
{%- else -%}
    {%- set system_prefix = '' -%}
    {%- set turns = messages -%}
    {%- set offset = 0 -%}
{%- endif -%}
__BOS__
{%- for message in turns -%}
    {%- set expected = 'user' if loop.index0 % 2 == 0 else 'assistant' -%}
    {%- if message['role'] != expected -%}
        {{- raise_exception('LIMA chat format: message ' ~ (loop.index0 + offset) ~ ' has role ' ~ message['role'] ~ ' but ' ~ expected ~ ' was expected; roles must alternate user/assistant/user/..., starting with user after an optional first system message') -}}
    {%- endif -%}
    {%- if message['content'] is not string -%}
        {{- raise_exception('LIMA chat format: message ' ~ (loop.index0 + offset) ~ ' has non-text content; only string content is supported') -}}
    {%- endif -%}
    {%- if eot_token in message['content'] -%}
        {{- raise_exception('LIMA chat format: message ' ~ (loop.index0 + offset) ~ ' contains the end-of-turn token ' ~ eot_token ~ ' in its text') -}}
    {%- endif -%}
    {%- if message['role'] == 'user' -%}
        {{- user_header ~ (system_prefix if loop.first else '') ~ message['content'] ~ eot_token -}}
    {%- else -%}
        {{- assistant_header -}}
        {%- generation -%}
            {{- message['content'] ~ eot_token -}}
        {%- endgeneration -%}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {%- if turns[-1]['role'] != 'user' -%}
        {{- raise_exception('LIMA chat format: add_generation_prompt=True needs a conversation that ends with a user message') -}}
    {%- endif -%}
    {{- assistant_header -}}
{%- endif -%}
"""

_BOS = "{%- if bos_token is defined and bos_token -%}{{- bos_token -}}{%- endif -%}"


def _jinja_string(text: str) -> str:
    """A Jinja string literal for ``text`` (JSON escaping, which Jinja's lexer decodes back)."""
    return json.dumps(text, ensure_ascii=True)


def build_eot_chat_template(
    eot_token: str = DEFAULT_EOT_TOKEN,
    *,
    add_bos: bool = True,
    role_headers: Mapping[str, str] | None = None,
) -> str:
    """Return the LIMA chat template for ``eot_token``.

    ``add_bos`` starts the rendering with the tokenizer's ``bos_token`` (for tokenizers that put a BOS before
    every text, such as LLaMA's); ``role_headers`` (``{"user": ..., "assistant": ...}``) optionally prefixes
    each turn with a header, e.g. ``{"user": "User:\\n", "assistant": "Assistant:\\n"}`` (not ending in a
    space); the assistant header is also the generation prompt and is not trained. Without headers, speakers
    are told apart by turn order, as in the paper.
    """
    if not isinstance(eot_token, str) or not eot_token.strip():
        raise ValueError(f"the end-of-turn token must be a non-empty string, got {eot_token!r}")
    headers = dict(role_headers or {})
    unknown = set(headers) - {"user", "assistant"}
    if unknown:
        raise ValueError(f"role_headers accepts the keys 'user' and 'assistant' only, got {sorted(unknown)}")
    for role, header in headers.items():
        if not isinstance(header, str):
            raise TypeError(f"role header for {role!r} must be a string, got {header!r}")
        if header.endswith((" ", "\t")):
            raise ValueError(
                f"role header {header!r} ends with a space, which BPE tokenizers merge into the first word of the "
                "message, so replies would be tokenised differently in training and at inference; end it with "
                "a newline instead"
            )
        if eot_token in header:
            raise ValueError(f"role header for {role!r} must not contain the end-of-turn token {eot_token!r}")
    return (
        _TEMPLATE.replace("__EOT__", _jinja_string(eot_token))
        .replace("__USER_HEADER__", _jinja_string(headers.get("user", "")))
        .replace("__ASSISTANT_HEADER__", _jinja_string(headers.get("assistant", "")))
        .replace("__BOS__", _BOS if add_bos else "")
    )


EOT_CHAT_TEMPLATE = build_eot_chat_template()
"""The LIMA chat template for :data:`DEFAULT_EOT_TOKEN`, starting with the tokenizer's BOS (LLaMA-style).

Prefer :func:`setup_eot_chat_format`, which picks the BOS handling that matches the tokenizer."""


def eot_token_from_template(chat_template: str | None) -> str:
    """The end-of-turn token of a template built by :func:`build_eot_chat_template`; ValueError otherwise."""
    if not chat_template:
        raise ValueError("the tokenizer has no chat template: run lima_hf.setup_eot_chat_format(model, tokenizer)")
    if isinstance(chat_template, Mapping):
        chat_template = chat_template.get("default")
    match = _EOT_LINE.search(chat_template or "")
    if match is None:
        raise ValueError(
            "the tokenizer's chat template is not the LIMA end-of-turn template: "
            "run lima_hf.setup_eot_chat_format(model, tokenizer)"
        )
    return json.loads(match.group(1))


def tokenizer_adds_bos(tokenizer) -> bool:
    """Whether ``tokenizer(text)`` puts the BOS token in front of plain text (LLaMA does, SmolLM2 does not)."""
    bos_id = tokenizer.bos_token_id
    if bos_id is None:
        return False
    ids = tokenizer("a", add_special_tokens=True)["input_ids"]
    return len(ids) > 0 and ids[0] == bos_id


def _split_pieces(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


def _ensure_eot_token(tokenizer, eot_token: str, require_existing: bool) -> int:
    """Return the id of ``eot_token``, adding it as a special token unless it already is one."""
    added_vocab = tokenizer.get_added_vocab()
    if eot_token in added_vocab:
        token_id = added_vocab[eot_token]
        if not tokenizer.added_tokens_decoder[token_id].special:
            raise ValueError(
                f"{eot_token!r} is an added token of this tokenizer but not a special one, so it would appear "
                "in decoded replies; pick another end-of-turn token"
            )
    elif eot_token in tokenizer.get_vocab():
        raise ValueError(
            f"{eot_token!r} is a regular token of this tokenizer's vocabulary, so it also occurs in ordinary "
            f"text; pick a dedicated end-of-turn token (the default is {DEFAULT_EOT_TOKEN!r})"
        )
    elif require_existing:
        pieces = _split_pieces(tokenizer, eot_token)
        raise ValueError(
            f"{eot_token!r} is not a token of this tokenizer: it would be split into {len(pieces)} tokens "
            f"{pieces}; pass require_existing=False to add it as a new special token"
        )
    else:
        tokenizer.add_special_tokens({"extra_special_tokens": [eot_token]}, replace_extra_special_tokens=False)
        token_id = tokenizer.convert_tokens_to_ids(eot_token)
    # The token must survive tokenisation in context, alone and between words.
    ids = tokenizer(f"a{eot_token}b", add_special_tokens=False)["input_ids"]
    if token_id not in ids or tokenizer(eot_token, add_special_tokens=False)["input_ids"] != [token_id]:
        pieces = _split_pieces(tokenizer, eot_token)
        raise ValueError(
            f"this tokenizer splits the end-of-turn token {eot_token!r} into {len(pieces)} tokens {pieces} "
            "instead of keeping it whole; use a fast tokenizer or another end-of-turn token"
        )
    return token_id


_WHITESPACE_PIECE = re.compile("[\\s\u2581\u0120\u010a\u0109\u010d]+")
"""A vocabulary entry of whitespace only: spaces, newlines and tabs, as text or as the markers of SentencePiece
(U+2581) and byte-level BPE (U+0120 space, U+010A newline, U+0109 tab, U+010D carriage return)."""


def whitespace_token_ids(tokenizer) -> list[int]:
    """Ids of the tokens that are whitespace only (``"\\n"``, ``"\\n\\n"``, a space), special tokens excluded."""
    special = set(tokenizer.all_special_ids)
    return sorted(i for token, i in tokenizer.get_vocab().items()
                  if i not in special and _WHITESPACE_PIECE.fullmatch(token))


def _ensure_pad_token(tokenizer, eot_token: str) -> bool:
    """Give the tokenizer a pad token distinct from the EOT (a collator masking padding must not mask the EOT).

    Returns whether the pad token changed."""
    if tokenizer.pad_token is not None and tokenizer.pad_token != eot_token:
        return False
    for candidate in (tokenizer.eos_token, tokenizer.unk_token):
        if candidate is not None and candidate != eot_token:
            tokenizer.pad_token = candidate
            return True
    tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
    return True


def _gathered(params):
    """Under DeepSpeed ZeRO-3, gather the partitioned ``params`` for editing; a no-op otherwise."""
    from transformers.integrations import is_deepspeed_zero3_enabled

    if not is_deepspeed_zero3_enabled():
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(params, modifier_rank=0)


def _init_rows(model, rows: list[int], copies: Mapping[int, int]) -> None:
    """Set embedding rows (input and, when untied, output) to the mean of the other rows, except the rows of
    ``copies`` (new row -> existing row), which start as copies of an existing row, the output row scaled by
    :data:`EOT_COPY_SCALE` (with tied embeddings the one shared row)."""
    import torch

    if not rows:
        return
    index = torch.tensor(rows)
    layers = [model.get_input_embeddings()]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not layers[0].weight:
        layers.append(output)
    with _gathered([layer.weight for layer in layers]), torch.no_grad():
        for layer in layers:
            keep = torch.ones(layer.weight.shape[0], dtype=torch.bool)
            keep[index] = False
            layer.weight[index] = layer.weight[keep].mean(dim=0, keepdim=True).to(layer.weight.dtype)
            bias = getattr(layer, "bias", None)
            if bias is not None:
                bias[index] = bias[keep].mean().to(bias.dtype)
            scale = EOT_COPY_SCALE if layer is layers[-1] else 1.0
            for row, source in copies.items():
                layer.weight[row] = layer.weight[source] * scale
                if bias is not None:
                    bias[row] = bias[source] * scale


def _embedding_rows(model) -> int:
    embeddings = model.get_input_embeddings()
    return getattr(embeddings, "num_embeddings", None) or embeddings.weight.shape[0]  # ZeRO-3 keeps num_embeddings


def _end_token_id(model, tokenizer, eot_token: str) -> int | None:
    """The model's own end token (the tokenizer's EOS, else the first stop token of the generation config):
    ``<|im_end|>`` for SmolLM2, ``</s>`` for LLaMA; None when it has none (or only the EOT itself)."""
    candidates = [tokenizer.eos_token_id, *_as_id_list(getattr(model.generation_config, "eos_token_id", None))]
    eot_id = tokenizer.convert_tokens_to_ids(eot_token) if eot_token in tokenizer.get_vocab() else None
    for token_id in candidates:
        if token_id is not None and token_id != eot_id and token_id < _embedding_rows(model):
            return token_id
    return None


def _resize_embeddings(model, tokenizer, first_new_id: int, eot_id: int, eot_source: int | None) -> None:
    """Grow the embeddings to the tokenizer's size; rows of tokens from ``first_new_id`` on start at the mean,
    except a new EOT row, which copies row ``eot_source`` when given.

    A padded vocabulary (more rows than tokens) is not grown: the new tokens take its free rows."""
    old_rows = _embedding_rows(model)
    if len(tokenizer) > old_rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    rows = list(range(min(first_new_id, old_rows), len(tokenizer)))
    copies = {eot_id: eot_source} if eot_source is not None and eot_id in rows else {}
    _init_rows(model, rows, copies)


def _as_id_list(value) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


def setup_eot_chat_format(
    model,
    tokenizer,
    eot_token: str = DEFAULT_EOT_TOKEN,
    *,
    require_existing: bool = False,
    add_bos: bool | Literal["auto"] = "auto",
    role_headers: Mapping[str, str] | None = None,
    eot_init: Literal["eos", "mean"] = DEFAULT_EOT_INIT,
):
    """Prepare ``model`` and ``tokenizer`` for LIMA's chat format; returns ``(model, tokenizer)``.

    - adds ``eot_token`` as a special token, or reuses it when it already is one (e.g. SmolLM2's
      ``"<|im_end|>"``); ``require_existing=True`` raises instead of adding a new token;
    - grows the embeddings, tied or untied. A new EOT row starts, in the input and the output embeddings, as
      a copy of the model's own end token (``eot_init="eos"``, the default: the tokenizer's EOS, e.g.
      ``<|im_end|>`` for SmolLM2, ``</s>`` for LLaMA; the mean when there is none) or at the mean of the
      existing rows (``eot_init="mean"``). The copy's output row is scaled by :data:`EOT_COPY_SCALE`, so the
      model predicts the EOT, ahead of its old end token, where it would have ended its text, and a few dozen
      steps teach it to stop (``docs/chat.md`` has the measurements); the EOT is its own token, trained apart
      from the EOS. Other new rows (a pad token) start at the mean;
    - sets the chat template (:func:`build_eot_chat_template`); ``add_bos="auto"`` starts it with the BOS
      exactly when the tokenizer puts a BOS before plain text, since ``apply_chat_template`` tokenises the
      rendering without adding special tokens;
    - makes the EOT the tokenizer's ``eos_token`` and the model config's ``eos_token_id``, and adds it to
      ``model.generation_config.eos_token_id`` (which keeps the old EOS too), so that ``generate`` stops on it
      whether the stop id comes from the generation config or from the tokenizer (as in the
      alignment-handbook's ``generation_config.eos_token_id = tokenizer.eos_token_id``);
    - puts every stop token and every whitespace-only token in ``model.generation_config.begin_suppress_tokens``,
      so that ``generate`` never gives an empty reply: a base model may end its turn at once (with the scaled
      copy, Gemma's EOT is up to 0.1 likely right after the user's EOT), and a chat model may start with the
      newline its own format put after an end token (SmolLM2), then end (``docs/chat.md``);
    - sets a pad token (distinct from the EOT; the old EOS when there is none) on the tokenizer and the model.

    Calling it again changes nothing. ``model`` may be ``None`` to prepare a tokenizer alone.
    """
    if model is not None and getattr(model, "generation_config", None) is None:
        raise ValueError(
            f"{type(model).__name__} has no generation_config, so it cannot generate; "
            "pass a causal language model (AutoModelForCausalLM)"
        )
    if eot_init not in EOT_INITS:
        raise ValueError(f"eot_init must be one of {', '.join(EOT_INITS)}, got {eot_init!r}")
    chat_template = build_eot_chat_template(
        eot_token,
        add_bos=tokenizer_adds_bos(tokenizer) if add_bos == "auto" else bool(add_bos),
        role_headers=role_headers,
    )
    vocab_before = len(tokenizer)
    end_id = _end_token_id(model, tokenizer, eot_token) if model is not None and eot_init == "eos" else None
    eot_id = _ensure_eot_token(tokenizer, eot_token, require_existing)
    pad_changed = _ensure_pad_token(tokenizer, eot_token)  # before the EOS changes: a missing pad takes the old EOS
    if tokenizer.eos_token != eot_token:  # tools that take the stop id from the tokenizer then stop at the EOT
        logger.info("making the end-of-turn token %r the tokenizer's eos_token (was %r)", eot_token, tokenizer.eos_token)
        tokenizer.eos_token = eot_token
    if tokenizer.chat_template not in (None, chat_template):
        logger.info("replacing the tokenizer's chat template with the LIMA end-of-turn template")
    tokenizer.chat_template = chat_template
    if model is None:
        return model, tokenizer

    if eot_init == "eos" and end_id is None and eot_id >= vocab_before:
        logger.warning("the model has no end token to start the new %s row from; it starts at the mean", eot_token)
    _resize_embeddings(model, tokenizer, vocab_before, eot_id, end_id)
    generation_config = model.generation_config
    eos_ids = _as_id_list(generation_config.eos_token_id)
    if eot_id not in eos_ids:
        generation_config.eos_token_id = [*eos_ids, eot_id]
    # No reply is empty: it never starts with a stop token or with whitespace (LIMA's replies start with text;
    # Whisper's generation config suppresses its EOT and the space at the start the same way).
    suppressed = _as_id_list(generation_config.begin_suppress_tokens)
    starts = [*_as_id_list(generation_config.eos_token_id), *whitespace_token_ids(tokenizer)]
    generation_config.begin_suppress_tokens = [*suppressed, *sorted(set(starts) - set(suppressed))]
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    config.eos_token_id = eot_id
    # The model's pad id follows the tokenizer's where it is missing, is the EOT (an embedding's padding_idx
    # gets no gradient, and the EOT's embedding must be trained), or the tokenizer's pad token just changed.
    for holder in (config, generation_config):
        if pad_changed or getattr(holder, "pad_token_id", None) in (None, eot_id):
            holder.pad_token_id = tokenizer.pad_token_id
    embeddings = model.get_input_embeddings()
    if getattr(embeddings, "padding_idx", None) == eot_id:
        embeddings.padding_idx = tokenizer.pad_token_id
    return model, tokenizer


def check_eot_chat_format(model, tokenizer) -> int:
    """Check that ``model`` and ``tokenizer`` use the LIMA format and stop on its EOT; return the EOT id.

    Raises ValueError naming what is missing (no template, another template, EOT not a single special token,
    EOT not among the generation stop tokens, embeddings smaller than the vocabulary).
    """
    eot_token = eot_token_from_template(tokenizer.chat_template)
    added_vocab = tokenizer.get_added_vocab()
    if eot_token not in added_vocab or not tokenizer.added_tokens_decoder[added_vocab[eot_token]].special:
        raise ValueError(
            f"the end-of-turn token {eot_token!r} of the chat template is not a special token of the tokenizer"
        )
    eot_id = added_vocab[eot_token]
    if model is not None:
        rows = _embedding_rows(model)
        if rows < len(tokenizer):
            raise ValueError(f"the model has {rows} embedding rows but the tokenizer has {len(tokenizer)} tokens")
        if eot_id not in _as_id_list(model.generation_config.eos_token_id):
            raise ValueError(
                f"generation_config.eos_token_id {model.generation_config.eos_token_id} does not include the "
                f"end-of-turn token {eot_token!r} (id {eot_id}), so generation would not stop at the end of a turn"
            )
    return eot_id


def render_example(messages=None, eot_token: str = DEFAULT_EOT_TOKEN) -> str:
    """Render a conversation as text in the LIMA format, without BOS (for documentation and quick looks)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    if messages is None:
        messages = [
            {"role": "user", "content": "What is LIMA?"},
            {"role": "assistant", "content": "A model fine-tuned on 1,000 curated examples."},
        ]
    rendered, _ = render_jinja_template(
        conversations=[messages], chat_template=build_eot_chat_template(eot_token, add_bos=False)
    )
    return rendered[0]


_TOKENIZER_VOCABULARIES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")


def load_tokenizer(path: str | os.PathLike):
    """The tokenizer of a model folder or Hub id (no remote code); a missing local path, a folder without tokenizer
    files, or a tokenizer that does not load raises :class:`~lima_hf.errors.InputError` in one line naming the folder
    and what is missing."""
    from transformers import AutoTokenizer

    from lima_hf.errors import InputError

    check_tokenizer_source(path)
    try:
        return AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except Exception as err:  # one line naming the folder, whatever transformers raised
        raise InputError(f"{path}: the tokenizer does not load ({type(err).__name__}: "
                         f"{' '.join(str(err).split())[:300]})") from err


def check_tokenizer_source(path: str | os.PathLike) -> None:
    """Before any work: a local ``path`` exists and holds tokenizer files, or ``path`` is a Hub id; else an
    :class:`~lima_hf.errors.InputError` naming what is missing."""
    from lima_hf.errors import InputError

    folder = Path(path)
    if folder.is_dir():
        missing = [] if (folder / "tokenizer_config.json").is_file() else ["tokenizer_config.json"]
        if not any((folder / name).is_file() for name in _TOKENIZER_VOCABULARIES):
            missing.append("tokenizer.json")
        if missing:
            raise InputError(f"{folder}: no tokenizer (missing {', '.join(missing)}); was the save interrupted? "
                             "Save the model with its tokenizer again (lima-hf train and merge do)")
    elif str(path).startswith(("/", ".")) or not _looks_like_repo_id(str(path)):
        raise InputError(f"{path}: no such tokenizer folder")


def _looks_like_repo_id(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", text) is not None
