"""setup_eot_chat_format: the EOT token, embeddings, template, stop tokens and pad token, on real and tiny models."""

import copy

import pytest
import torch
from tokenizers import AddedToken

from lima_hf.chat import (
    DEFAULT_EOT_TOKEN,
    EOT_COPY_SCALE,
    build_eot_chat_template,
    check_eot_chat_format,
    setup_eot_chat_format,
)


def embedding_state(model):
    return (
        model.get_input_embeddings().weight.detach().clone(),
        model.get_output_embeddings().weight.detach().clone(),
    )


def untied_tiny_llama(tokenizer, vocab_size=None):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def test_prepares_a_tied_tiny_model(tiny_model):
    model, tokenizer = tiny_model
    vocab, (old_in, _), old_eos_id = len(tokenizer), embedding_state(model), tokenizer.eos_token_id
    model, tokenizer = setup_eot_chat_format(model, tokenizer)
    eot_id = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    assert len(tokenizer) == vocab + 1 and eot_id == vocab
    new_in, new_out = embedding_state(model)
    assert new_in.shape[0] == vocab + 1 and model.config.vocab_size == vocab + 1
    assert torch.equal(new_in[:vocab], old_in)  # existing rows untouched
    assert old_eos_id == tokenizer.convert_tokens_to_ids("<|im_end|>")  # SmolLM2's own end token
    # by default a copy of the model's end token, scaled so that the EOT outranks it where it is likely
    assert torch.allclose(new_in[eot_id], EOT_COPY_SCALE * old_in[old_eos_id])
    assert torch.equal(new_in, new_out)  # still tied
    assert model.generation_config.eos_token_id == [old_eos_id, eot_id]  # stops at either
    assert tokenizer.eos_token == DEFAULT_EOT_TOKEN and model.config.eos_token_id == eot_id  # for tools reading these
    assert DEFAULT_EOT_TOKEN in tokenizer.all_special_tokens
    assert tokenizer.decode([eot_id], skip_special_tokens=True) == ""
    assert check_eot_chat_format(model, tokenizer) == eot_id


def test_is_idempotent(tiny_model):
    model, tokenizer = setup_eot_chat_format(*tiny_model)
    before = (len(tokenizer), tokenizer.chat_template, list(model.generation_config.eos_token_id), tokenizer.pad_token)
    weights = embedding_state(model)
    with torch.no_grad():  # a trained EOT row must survive a second call
        model.get_input_embeddings().weight[-1] += 1.0
    trained = embedding_state(model)
    model, tokenizer = setup_eot_chat_format(model, tokenizer)
    after = (len(tokenizer), tokenizer.chat_template, list(model.generation_config.eos_token_id), tokenizer.pad_token)
    assert after == before
    assert all(torch.equal(a, b) for a, b in zip(embedding_state(model), trained))
    assert not torch.equal(trained[0], weights[0])


def test_untied_embeddings_get_mean_rows_in_both_matrices(bundled_tokenizer):
    tokenizer = copy.deepcopy(bundled_tokenizer)
    model = untied_tiny_llama(tokenizer)
    old_in, old_out = embedding_state(model)
    model, tokenizer = setup_eot_chat_format(model, tokenizer, eot_init="mean")
    new_in, new_out = embedding_state(model)
    assert torch.allclose(new_in[-1], old_in.mean(dim=0)) and torch.allclose(new_out[-1], old_out.mean(dim=0))
    assert torch.equal(new_in[:-1], old_in) and torch.equal(new_out[:-1], old_out)


def test_untied_embeddings_copy_the_end_token_in_both_matrices(bundled_tokenizer):
    tokenizer = copy.deepcopy(bundled_tokenizer)
    model = untied_tiny_llama(tokenizer)
    old_in, old_out = embedding_state(model)
    end = tokenizer.eos_token_id
    model, tokenizer = setup_eot_chat_format(model, tokenizer, eot_init="eos")
    new_in, new_out = embedding_state(model)
    assert torch.equal(new_in[-1], old_in[end]) and torch.allclose(new_out[-1], EOT_COPY_SCALE * old_out[end])
    assert torch.equal(new_in[:-1], old_in) and torch.equal(new_out[:-1], old_out)
    hidden = torch.randn(8, old_out.shape[1])  # the EOT's logit is the old end token's, scaled
    assert torch.allclose(hidden @ new_out[-1], EOT_COPY_SCALE * (hidden @ old_out[end]), atol=1e-5)
    assert tokenizer.convert_ids_to_tokens(len(tokenizer) - 1) == DEFAULT_EOT_TOKEN  # a token of its own


def test_eos_init_falls_back_to_the_mean_without_an_end_token(bundled_tokenizer, caplog):
    tokenizer = copy.deepcopy(bundled_tokenizer)
    model = untied_tiny_llama(tokenizer)
    tokenizer.eos_token = None
    model.generation_config.eos_token_id = None
    old_in, _ = embedding_state(model)
    with caplog.at_level("WARNING", logger="lima_hf.chat"):
        model, tokenizer = setup_eot_chat_format(model, tokenizer)
    eot_id = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    assert torch.allclose(embedding_state(model)[0][eot_id], old_in.mean(dim=0))
    assert "no end token to start the new <|eot|> row from" in caplog.text


def test_rejects_an_unknown_eot_init(tiny_model):
    with pytest.raises(ValueError, match="eot_init must be one of eos, mean"):
        setup_eot_chat_format(*tiny_model, eot_init="zeros")


def test_padded_vocabulary_uses_a_free_row_without_resizing(bundled_tokenizer):
    tokenizer = copy.deepcopy(bundled_tokenizer)
    model = untied_tiny_llama(tokenizer, vocab_size=len(tokenizer) + 64)  # like models padded to a multiple of 64
    old_in, old_out = embedding_state(model)
    model, tokenizer = setup_eot_chat_format(model, tokenizer, eot_init="mean")
    new_in, new_out = embedding_state(model)
    eot_id = tokenizer.convert_tokens_to_ids(DEFAULT_EOT_TOKEN)
    assert new_in.shape == old_in.shape
    others = torch.ones(old_in.shape[0], dtype=torch.bool)
    others[eot_id] = False
    assert torch.allclose(new_in[eot_id], old_in[others].mean(dim=0))
    assert torch.allclose(new_out[eot_id], old_out[others].mean(dim=0))


def test_reuses_an_existing_end_of_turn_token(tiny_model):
    model, tokenizer = tiny_model
    vocab = len(tokenizer)
    assert tokenizer.pad_token == "<|im_end|>"  # SmolLM2 pads with its end-of-turn token
    model, tokenizer = setup_eot_chat_format(model, tokenizer, "<|im_end|>", require_existing=True)
    assert len(tokenizer) == vocab and model.get_input_embeddings().weight.shape[0] == vocab
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}])["input_ids"][-1] == im_end
    eos_ids = model.generation_config.eos_token_id
    assert im_end in (eos_ids if isinstance(eos_ids, list) else [eos_ids])
    # padding must differ from the EOT, or a collator that masks padding (or an embedding's padding_idx, which
    # gets no gradient) would never train the stop token
    assert tokenizer.pad_token not in (None, "<|im_end|>")
    assert model.config.pad_token_id == model.generation_config.pad_token_id == tokenizer.pad_token_id
    assert model.get_input_embeddings().padding_idx != im_end


def test_sets_a_missing_pad_token(bundled_tokenizer):
    tokenizer = copy.deepcopy(bundled_tokenizer)
    tokenizer.pad_token = None
    model = untied_tiny_llama(tokenizer)
    model.config.pad_token_id = None
    model.generation_config.pad_token_id = 5  # stale: follows the tokenizer's new pad token
    old_eos = tokenizer.eos_token
    model, tokenizer = setup_eot_chat_format(model, tokenizer)
    assert tokenizer.pad_token == old_eos != DEFAULT_EOT_TOKEN == tokenizer.eos_token
    assert model.config.pad_token_id == model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_adds_a_pad_token_when_no_other_token_can_pad(bundled_tokenizer):
    tokenizer = copy.deepcopy(bundled_tokenizer)
    tokenizer.pad_token = tokenizer.unk_token = None  # and EOS is the reused EOT
    model = untied_tiny_llama(tokenizer)
    old_in, _ = embedding_state(model)
    model, tokenizer = setup_eot_chat_format(model, tokenizer, "<|im_end|>")
    assert tokenizer.pad_token == "<|pad|>" and len(tokenizer) == old_in.shape[0] + 1
    new_in, _ = embedding_state(model)
    assert torch.allclose(new_in[tokenizer.pad_token_id], old_in.mean(dim=0))
    assert model.config.pad_token_id == tokenizer.pad_token_id


def test_prepares_the_bundled_model(bundled_model, bundled_tokenizer):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(bundled_model)
    rows = model.get_input_embeddings().weight.shape[0]
    model, tokenizer = setup_eot_chat_format(model, copy.deepcopy(bundled_tokenizer))
    eot_id = check_eot_chat_format(model, tokenizer)
    assert model.get_input_embeddings().weight.shape[0] == max(rows, len(tokenizer))
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True)["input_ids"]
    assert ids[-1] == eot_id and tokenizer.bos_token_id not in ids


def test_require_existing_names_the_pieces_of_a_split_token(tiny_model):
    model, tokenizer = tiny_model
    with pytest.raises(ValueError, match=r"'<\|eot\|>' is not a token of this tokenizer: it would be split into \d+"):
        setup_eot_chat_format(model, tokenizer, require_existing=True)


def test_rejects_a_regular_vocabulary_token(tiny_model):
    with pytest.raises(ValueError, match="'hello' is a regular token .* pick a dedicated end-of-turn token"):
        setup_eot_chat_format(*tiny_model, eot_token="hello")


def test_rejects_an_added_token_that_is_not_special(tiny_model):
    model, tokenizer = tiny_model
    tokenizer.add_tokens([AddedToken("<|turn|>", special=False)])
    with pytest.raises(ValueError, match="not a special one, so it would appear in decoded replies"):
        setup_eot_chat_format(model, tokenizer, "<|turn|>")


def test_rejects_a_model_that_cannot_generate(bundled_tokenizer):
    from transformers import LlamaConfig, LlamaModel

    tokenizer = copy.deepcopy(bundled_tokenizer)
    model = LlamaModel(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        )
    )
    with pytest.raises(ValueError, match="LlamaModel has no generation_config"):
        setup_eot_chat_format(model, tokenizer)
    assert DEFAULT_EOT_TOKEN not in tokenizer.get_added_vocab()  # nothing was changed


def test_check_reports_what_is_missing(tiny_model, bundled_tokenizer):
    model, tokenizer = tiny_model
    with pytest.raises(ValueError, match="not the LIMA end-of-turn template"):
        check_eot_chat_format(model, tokenizer)
    tokenizer.chat_template = build_eot_chat_template(add_bos=False)
    with pytest.raises(ValueError, match="is not a special token of the tokenizer"):
        check_eot_chat_format(model, tokenizer)
    _, tokenizer = setup_eot_chat_format(None, tokenizer)
    with pytest.raises(ValueError, match="embedding rows but the tokenizer has"):
        check_eot_chat_format(model, tokenizer)
    model.resize_token_embeddings(len(tokenizer))
    with pytest.raises(ValueError, match="does not include the end-of-turn token"):
        check_eot_chat_format(model, tokenizer)
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="has no chat template"):
        check_eot_chat_format(model, tokenizer)
