"""Objectives: masks, spans, what each model sees, causality, groups, saving, learning."""

import math

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM

from seqens.architectures import ARCHITECTURES
from seqens.comparisons.outputs import per_position_metrics
from seqens.config import BUILTIN_PRESETS
from seqens.distributions import cross_entropy_bits
from seqens.extraction import contextual_embeddings, output_distributions
from seqens.positions import EvalPositions, draw_eval_positions
from seqens.fisher import _group_index
from seqens.errors import InputError
from seqens.markov import unigram_log2_probs
from seqens.objectives import REGISTRY, SpecialTokens, make_objective
from seqens.special import special_tokens
from seqens.training import TrainSettings, train_member

from conftest import TINY_PRESET

SPECIAL = SpecialTokens(pad=0, unk=1, cls=2, sep=3, mask=4, vocab_size=30)
PRESET = {**TINY_PRESET, "hidden": 32, "ffn": 64}


def token_batch(n=64, length=48, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 30, (n, length), generator=generator)
    ids[:, 0] = SPECIAL.cls
    ids[:, length // 2] = SPECIAL.sep
    return ids


def draw(objective, ids, progress=0.0, seed=1):
    return objective.training_batch(ids, torch.Generator().manual_seed(seed), progress)


def test_mlm_ratio_replacement_and_specials():
    objective = make_objective("mlm", SPECIAL)
    ids = token_batch(400)
    batch = draw(objective, ids)
    selected = batch["selected"]
    maskable = SPECIAL.maskable(ids)
    assert not (selected & ~maskable).any()
    assert selected.sum() / maskable.sum() == pytest.approx(0.15, abs=0.01)
    corrupted = batch["input_ids"][selected]
    original = ids[selected]
    share_mask = (corrupted == SPECIAL.mask).float().mean()
    share_same = (corrupted == original).float().mean()
    assert share_mask == pytest.approx(0.8, abs=0.02)
    assert share_same == pytest.approx(0.1 + 0.1 / 25, abs=0.02)  # kept, or randomly drawn as itself
    assert (batch["input_ids"][~selected] == ids[~selected]).all()


def collator_random_tokens(vocab_size: int, n: int) -> set[int]:
    """The ids transformers' DataCollatorForLanguageModeling (the paper's collator) puts at
    randomly replaced positions, with every token selected and none [MASK]ed or kept."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

    names = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(5, vocab_size)]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({name: i for i, name in enumerate(names)}, unk_token="[UNK]")),
        pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=1.0, mask_replace_prob=0.0,
                                               random_replace_prob=1.0, return_tensors="pt")
    inputs, _ = collator.torch_mask_tokens(torch.full((n,), 7), special_tokens_mask=torch.zeros(n, dtype=torch.bool))
    return set(inputs.tolist())


@pytest.mark.parametrize("pool", ["vocabulary", "non_special"])
def test_random_replacements_come_from_the_configured_pool(pool):
    """random_tokens: vocabulary draws the random 10% from every id, specials included, as the
    paper's collator does; non_special (the default) from the ordinary tokens only."""
    special = SpecialTokens(pad=0, unk=1, cls=2, sep=3, mask=4, vocab_size=12)
    ids = torch.full((4000, 8), 7)
    objective = make_objective("mlm", special, {"mask_ratio": 0.5, "random_tokens": pool})
    batch = draw(objective, ids)
    # Ids other than the original (7) and [MASK] (4: also the 80%'s) can only be random draws.
    replaced = set(batch["input_ids"][batch["selected"]].tolist()) - {7, special.mask}
    paper = collator_random_tokens(12, 4000)
    assert paper == set(range(12))
    assert replaced == (paper if pool == "vocabulary" else set(range(5, 12))) - {7, special.mask}
    assert make_objective("mlm", special).params["random_tokens"] == "non_special"
    with pytest.raises(InputError, match="random_tokens must be one of"):
        make_objective("mlm", special, {"random_tokens": "all"})


def run_lengths(row: np.ndarray) -> list[int]:
    padded = np.concatenate([[0], row.astype(int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return list(edges[1::2] - edges[::2])


@pytest.mark.parametrize("progress, span", [(0.0, 1), (0.3, 2), (0.5, 3), (0.7, 4), (0.99, 5)])
def test_randommask_spans_grow_by_stage_at_the_target_ratio(progress, span):
    objective = make_objective("randommask", SPECIAL)
    assert objective.parameters.span_at(progress) == span
    ids = token_batch(300, length=256)
    ids[:, 128] = 7  # no [SEP]: long runs of ordinary tokens
    maskable = SPECIAL.maskable(ids)
    selected = draw(objective, ids, progress)["selected"]
    assert not (selected & ~maskable).any()
    assert selected.sum() / maskable.sum() == pytest.approx(0.15, abs=0.015)
    # Sparse centres give runs of exactly the span length.
    sparse = make_objective("randommask", SPECIAL, {"mask_ratio": 0.02})
    lengths = [n for row in draw(sparse, ids, progress)["selected"].numpy() for n in run_lengths(row[1:-1])]
    assert np.bincount(lengths).argmax() == span


def test_randommask_schedule_and_params_are_checked():
    with pytest.raises(InputError, match="objective 'randommask': 5 stages do not fit in 3 training steps"):
        make_objective("randommask", SPECIAL).check_schedule(3)
    with pytest.raises(InputError, match="stage_fractions"):
        make_objective("randommask", SPECIAL, {"spans": [1, 2], "stage_fractions": [0.5, 0.6]})
    custom = make_objective("randommask", SPECIAL, {"spans": [2, 8], "stage_fractions": [0.25, 0.75]})
    assert (custom.parameters.span_at(0.2), custom.parameters.span_at(0.3)) == (2, 8)


def test_mae_encoder_sees_only_visible_tokens_with_original_positions():
    objective = make_objective("mae", SPECIAL)
    ids = token_batch(8)
    batch = draw(objective, ids)
    maskable = SPECIAL.maskable(ids)
    counts = batch["selected"].sum(dim=1)
    assert (counts == torch.round(0.5 * maskable.sum(dim=1))).all()  # exact count per sequence
    hidden = batch["hidden"]
    assert not (hidden & ~batch["selected"]).any()
    assert not (batch["input_ids"] == SPECIAL.mask).any()
    torch.manual_seed(0)
    model = objective.build_model(PRESET)
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, args, kwargs: seen.update(kwargs), with_kwargs=True)
    objective.loss(model, batch)
    encoder_ids, position_ids = seen["input_ids"], seen["position_ids"]
    assert not (encoder_ids == SPECIAL.mask).any()
    visible = ~hidden
    for row in range(len(ids)):
        n_visible = int(visible[row].sum())
        expected_positions = torch.nonzero(visible[row]).flatten()
        assert torch.equal(position_ids[row, :n_visible], expected_positions)
        assert torch.equal(encoder_ids[row, :n_visible], batch["input_ids"][row, expected_positions])
        assert (encoder_ids[row, n_visible:] == SPECIAL.pad).all()


def test_mae_hides_replaces_and_keeps_selected_tokens_in_the_configured_shares():
    ids = token_batch(400)
    batch = draw(make_objective("mae", SPECIAL), ids)
    selected, hidden = batch["selected"], batch["hidden"]
    shown = selected & ~hidden
    assert hidden.sum() / selected.sum() == pytest.approx(0.8, abs=0.01)
    kept = (batch["input_ids"][shown] == ids[shown]).float().mean()
    assert kept == pytest.approx(0.5 + 0.5 / 25, abs=0.03)  # kept, or randomly drawn as itself
    assert (batch["input_ids"][~selected] == ids[~selected]).all()
    # BarcodeMAE's default: every selected token hidden.
    barcode = draw(make_objective("mae", SPECIAL, {"hide_fraction": 1.0, "random_fraction": 0.0}), ids)
    assert torch.equal(barcode["hidden"], barcode["selected"]) and torch.equal(barcode["input_ids"], ids)
    with pytest.raises(InputError, match="hide_fraction"):
        make_objective("mae", SPECIAL, {"hide_fraction": 0.8, "random_fraction": 0.3})


def test_clm_never_sees_the_future():
    objective = make_objective("clm", SPECIAL)
    torch.manual_seed(0)
    model = objective.build_model(PRESET).eval()
    ids = token_batch(2, length=20)
    changed = ids.clone()
    changed[:, 10] = (changed[:, 10] + 1 - 5) % 25 + 5
    with torch.no_grad():
        before = model(input_ids=ids).logits
        after = model(input_ids=changed).logits
        assert torch.allclose(before[:, :10], after[:, :10], atol=1e-6)
        assert not torch.allclose(before[:, 10:], after[:, 10:])
        positions = torch.zeros_like(ids, dtype=torch.bool)
        positions[:, 10] = True  # the prediction at 10 comes from the context up to 9
        assert torch.allclose(objective.logits_at(model, ids, positions), objective.logits_at(model, changed, positions))


TRAINABLE = [(a, o) for a in sorted(ARCHITECTURES) for o in sorted(REGISTRY) if o not in ARCHITECTURES[a].refusals]
AUTO_CLASS = {"mlm": AutoModelForMaskedLM, "randommask": AutoModelForMaskedLM, "mae": AutoModel, "clm": AutoModelForCausalLM}


@pytest.mark.parametrize("architecture, name", TRAINABLE)
def test_trains_groups_sequence_loss_and_save_load(architecture, name, tmp_path):
    """Every architecture x objective: a few training steps, Fisher groups that partition
    the trainable parameters, per-sequence losses that add up to the batched logits, and a
    save_pretrained / from_pretrained round trip (ours and the documented Auto class) with
    identical logits."""
    objective = make_objective(name, SPECIAL, {}, architecture)
    torch.manual_seed(0)
    model = objective.build_model(PRESET)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ids = token_batch(8, length=24)
    for step in range(3):
        loss = objective.loss(model, draw(objective, ids, progress=step / 3, seed=step))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert math.isfinite(loss.item())
    model.eval()
    groups = objective.layer_groups(model)
    _group_index(model, groups)  # raises unless every trainable parameter is in exactly one group
    layers = [g for g in groups if g.startswith("layer.")]
    assert list(groups)[0] == "embeddings" and list(groups)[-1] == "head" and layers
    assert all(groups[g] for g in groups), {g: len(v) for g, v in groups.items()}
    ids = ids[:3]
    positions = (torch.rand(ids.shape, generator=torch.Generator().manual_seed(2)) < 0.2) & SPECIAL.maskable(ids)
    with torch.no_grad():
        logits = objective.logits_at(model, ids, positions)
        assert logits.shape == (int(positions.sum()), SPECIAL.vocab_size)
        nll = -torch.log_softmax(logits, -1).gather(1, ids[positions][:, None]).sum()
        total = sum(objective.sequence_loss(model, ids[i], positions[i]) for i in range(3))
        assert float(total) == pytest.approx(float(nll), rel=1e-5)
    objective.save_pretrained(model, tmp_path)
    reloaded = objective.load_pretrained(tmp_path).eval()
    assert objective.layer_groups(reloaded) == groups  # e.g. fixed tables stay out of the Fisher
    with torch.no_grad():
        assert torch.equal(objective.logits_at(reloaded, ids, positions), logits)
    auto = AUTO_CLASS[name].from_pretrained(tmp_path).eval()
    assert type(auto).__name__ == type(reloaded if name != "mae" else reloaded.encoder).__name__
    assert objective.input_embeddings(model).shape == (SPECIAL.vocab_size, PRESET["hidden"])


@pytest.mark.parametrize("architecture, name", TRAINABLE)
def test_contextual_embeddings_pool_the_states_predictions_come_from(architecture, name):
    """Every layer's states, pooled per sequence; the last layer's are the states the
    predictions at the evaluation positions are computed from (mae: its encoder's, over the
    tokens left visible)."""
    objective = make_objective(name, SPECIAL, {}, architecture)
    torch.manual_seed(0)
    model = objective.build_model(PRESET).eval()
    ids = token_batch(5, length=20)
    positions = (torch.rand(ids.shape, generator=torch.Generator().manual_seed(3)) < 0.2) & SPECIAL.maskable(ids)
    eval_positions = EvalPositions(ids.numpy(), positions.numpy(), np.arange(5), "")
    pooled = contextual_embeddings(objective, model, eval_positions, n_sequences=4, batch_size=3, device="cpu")
    layers = model.encoder.config.num_hidden_layers if name == "mae" else PRESET["layers"]
    assert pooled.shape == (layers + 1, 4, PRESET["hidden"]) and np.isfinite(pooled).all()
    with torch.no_grad():
        if name == "mae":
            encoded, _, kept = model.encode(ids[:4], ~positions[:4], SPECIAL.pad)
            last = [encoded.last_hidden_state[i, kept[i]].mean(0) for i in range(4)]
        else:
            masked = ids if name == "clm" else torch.where(positions, torch.full_like(ids, SPECIAL.mask), ids)
            inputs = objective.architecture.inputs(masked[:4], causal=name == "clm")
            last = list(objective.architecture.backbone(model)(**inputs).last_hidden_state.mean(1))
    np.testing.assert_allclose(pooled[-1], torch.stack(last).numpy(), atol=1e-5)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_masked_logits_are_the_models_own(architecture):
    """The loss path (backbone, then the head on the selected positions only) gives the
    logits of the model's own forward pass."""
    objective = make_objective("mlm", SPECIAL, {}, architecture)
    torch.manual_seed(0)
    model = objective.build_model(PRESET).eval()
    ids = token_batch(2, length=16)
    positions = torch.zeros_like(ids, dtype=torch.bool)
    positions[:, [3, 9]] = True
    masked = torch.where(positions, torch.full_like(ids, SPECIAL.mask), ids)
    with torch.no_grad():
        full = model(input_ids=masked).logits
        assert torch.allclose(objective.logits_at(model, ids, positions), full[positions], atol=1e-5)


@pytest.mark.parametrize("architecture, name", [(a, o) for a in ARCHITECTURES for o in ARCHITECTURES[a].refusals])
def test_combinations_that_cannot_work_are_refused_naming_both(architecture, name):
    with pytest.raises(InputError, match=f"objective '{name}' cannot be trained with architecture '{architecture}'"):
        make_objective(name, SPECIAL, {}, architecture)


def test_unknown_architecture_is_an_error_naming_it():
    with pytest.raises(InputError, match="architecture 'gpt9': unknown"):
        make_objective("mlm", SPECIAL, {}, "gpt9")


def test_unknown_objective_or_parameter_is_an_error_naming_it():
    with pytest.raises(InputError, match="unknown objective 'electra'"):
        make_objective("electra", SPECIAL)
    with pytest.raises(InputError, match=r"objective 'mae': unknown parameter\(s\) \['span'\]"):
        make_objective("mae", SPECIAL, {"span": 3})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_objective_learns_real_text_below_unigram_entropy(name, wiki_tokens, tmp_path):
    tokenizer, train, evaluation, unigram_bits = wiki_tokens
    objective = make_objective(name, special_tokens(tokenizer.vocab_size), {})
    settings = TrainSettings(steps=300, batch_size=32, learning_rate=3e-3, seed=1, data_seed=1, eval_every=300)
    preset = {**TINY_PRESET, "hidden": 64, "ffn": 256, "dropout": 0.0}
    model, result = train_member(objective, preset, train, evaluation, settings, checkpoint_path=None, progress=False)
    eval_bits = result.log["eval_loss"].dropna().iloc[-1] / math.log(2)
    assert eval_bits < unigram_bits - 0.1, (eval_bits, unigram_bits)
    # The extraction's view: every fixed position hidden, cross-entropy against the unigram
    # model's. The next-token objective uses context at once; the masking objectives at this
    # scale sit on BERT's early plateau (unigram output at hidden positions; their eval loss
    # gains come from the selected tokens left visible), and must not do worse than it.
    np.save(tmp_path / "eval.npy", np.asarray(evaluation))
    fixed = draw_eval_positions(tmp_path / "eval.npy", n_sequences=None, mask_fraction=0.15, seed=3)
    probs = output_distributions(objective, model, fixed, batch_size=32, device="cpu")
    model_bits = cross_entropy_bits(probs, fixed.targets).mean()
    unigram = np.bincount(np.asarray(train).ravel(), minlength=tokenizer.vocab_size) / np.asarray(train).size
    unigram_at_positions = -np.log2(unigram[fixed.targets]).mean()
    margin = 0.5 if name == "clm" else -0.1
    assert model_bits < unigram_at_positions - margin, (model_bits, unigram_at_positions)


def test_a_rotary_encoder_learns_real_text_a_bit_beyond_the_unigram(wiki_tokens, tmp_path):
    """What the demo relies on: at laptop scale RoFormer leaves the unigram plateau that the
    paper's BERT sits on, and predicts hidden tokens at least 1 bit better than the best
    context-free predictor of the same positions (their own unigram distribution)."""
    tokenizer, train, evaluation, _ = wiki_tokens
    objective = make_objective("mlm", special_tokens(tokenizer.vocab_size), {}, "roformer")
    settings = TrainSettings(steps=1600, batch_size=16, learning_rate=2e-3, seed=1, data_seed=1, eval_every=1600)
    preset = {**TINY_PRESET, "hidden": 64, "ffn": 128, "dropout": 0.0}  # the demo's recipe
    model, _ = train_member(objective, preset, train, evaluation, settings, checkpoint_path=None, progress=False)
    np.save(tmp_path / "eval.npy", np.asarray(evaluation))
    fixed = draw_eval_positions(tmp_path / "eval.npy", n_sequences=None, mask_fraction=0.1, seed=3)
    probs = output_distributions(objective, model, fixed, batch_size=32, device="cpu")
    unigram = unigram_log2_probs(np.asarray(train), vocab_size=tokenizer.vocab_size)
    metrics = per_position_metrics(probs, fixed.targets, unigram)
    assert metrics["bits_beyond_unigram"].mean() > 1.0, (
        metrics["cross_entropy_bits"].mean(), metrics["unigram_cross_entropy_bits"].mean()
    )


def test_paper_preset_has_the_papers_89_192_704_parameters_at_4096_tokens():
    """bert-90m is GFMs' get_config_90M, BertConfig's defaults (two token types included):
    BertForMaskedLM(BertConfig(vocab_size=4096)) has 89,192,704 parameters."""
    from transformers import BertConfig, BertForMaskedLM

    objective = make_objective("mlm", SpecialTokens(0, 1, 2, 3, 4, vocab_size=4096))
    with torch.device("meta"):  # shapes only
        model = objective.build_model(BUILTIN_PRESETS["bert-90m"])
        reference = BertForMaskedLM(BertConfig(vocab_size=4096))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters()) == 89_192_704
    assert model.config.type_vocab_size == 2


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_a_presets_init_std_scales_every_architectures_initial_weights(architecture):
    """`init_std` is the models' initializer_range (BERT's 0.02 by default; the demo's 0.05):
    every trained weight matrix starts 2.5 times as spread out (ModernBERT scales some by
    depth, so the ratio, not the value, is what all share); fixed sinusoidal tables do not move."""
    preset = {**TINY_PRESET, "hidden": 128, "ffn": 256}
    objective = make_objective("mlm", special_tokens(512), None, architecture)

    def spreads(values: dict) -> dict:
        torch.manual_seed(0)
        model = objective.build_model({**preset, **values})
        return {name: float(p.detach().std()) for name, p in model.named_parameters()
                if p.dim() == 2 and p.requires_grad and "embed_positions" not in name and min(p.shape) > 1}

    default, wider = spreads({}), spreads({"init_std": 0.05})
    assert default and all(wider[name] / default[name] == pytest.approx(2.5, rel=0.05) for name in default), (default, wider)
