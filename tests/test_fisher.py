"""Per-sample empirical Fisher: ghost norms and torch.func equal a per-example loop on every
objective and architecture; groups; the mini-batch variant."""

import numpy as np
import pytest
import torch
from torch import nn

from seqens.architectures import ARCHITECTURES
from seqens.errors import InputError
from seqens.fisher import (
    _gram_norm,
    _materialised_norm,
    _Outer,
    minibatch_fisher,
    per_sample_fisher,
    per_sample_fisher_loop,
    per_sample_fisher_vmap,
)
from seqens.objectives import REGISTRY, SpecialTokens, make_objective

from conftest import TINY_PRESET

SPECIAL = SpecialTokens(pad=0, unk=1, cls=2, sep=3, mask=4, vocab_size=40)
PRESET = {**TINY_PRESET, "hidden": 16, "ffn": 32}


def evaluation_batches():
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 40, (10, 24), generator=generator)
    input_ids[:, 0] = SPECIAL.cls
    input_ids[3, 7] = SPECIAL.pad  # the padding row of the word embeddings gets no gradient
    positions = (torch.rand(input_ids.shape, generator=generator) < 0.2) & (input_ids != SPECIAL.cls)
    positions[:, 5] = True
    return [{"input_ids": input_ids[:6], "positions": positions[:6]},
            {"input_ids": input_ids[6:], "positions": positions[6:]}]


def losses_of(objective):
    def sequence_loss(model, example):
        return objective.sequence_loss(model, example["input_ids"], example["positions"])

    def sequence_losses(model, batch):
        return objective.sequence_losses(model, batch["input_ids"], batch["positions"])

    return sequence_loss, sequence_losses


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    objective = make_objective("mlm", SPECIAL, {})
    model = objective.build_model(PRESET).eval()
    return objective, model, evaluation_batches(), *losses_of(objective)


def trainable_pairs():
    for architecture in sorted(ARCHITECTURES):
        for objective in sorted(REGISTRY):
            try:
                make_objective(objective, SPECIAL, {}, architecture)
            except InputError:  # refused combination (seqens.architectures says why)
                continue
            yield architecture, objective


@pytest.mark.parametrize("architecture,name", list(trainable_pairs()))
def test_ghost_norms_equal_the_per_example_loop(architecture, name):
    torch.manual_seed(0)
    objective = make_objective(name, SPECIAL, {}, architecture)
    model = objective.build_model(PRESET).eval()
    groups = objective.layer_groups(model)
    batches = evaluation_batches()
    sequence_loss, sequence_losses = losses_of(objective)
    with torch.no_grad():
        batch = batches[0]
        singles = [sequence_loss(model, {k: v[i] for k, v in batch.items()}) for i in range(len(batch["input_ids"]))]
        torch.testing.assert_close(sequence_losses(model, batch), torch.stack(singles), rtol=1e-5, atol=0)
    reference = per_sample_fisher_loop(model, sequence_loss, batches, groups)
    ghost = per_sample_fisher(model, sequence_losses, batches, groups, chunk_size=4)
    assert (reference.per_sequence > 0).all()
    np.testing.assert_allclose(ghost.per_sequence, reference.per_sequence, rtol=1e-5)


def test_vmap_equals_per_example_loop(setup):
    objective, model, batches, sequence_loss, _ = setup
    groups = objective.layer_groups(model)
    fast = per_sample_fisher_vmap(model, sequence_loss, batches, groups, chunk_size=4)
    slow = per_sample_fisher_loop(model, sequence_loss, batches, groups)
    assert fast.per_sequence.shape == (10, 4)  # embeddings, layer.0, layer.1, head
    np.testing.assert_allclose(fast.per_sequence, slow.per_sequence, rtol=1e-5)
    assert fast.fractions().sum() == pytest.approx(1.0)
    frame = fast.to_frame()
    assert list(frame["group"]) == ["embeddings", "layer.0", "layer.1", "head"]
    assert frame["n_parameters"].sum() == sum(p.numel() for p in model.parameters())
    assert (frame["fisher_total"] > 0).all()


def test_chunk_size_does_not_change_results(setup):
    objective, model, batches, sequence_loss, sequence_losses = setup
    groups = objective.layer_groups(model)
    for fisher, loss in ((per_sample_fisher, sequence_losses), (per_sample_fisher_vmap, sequence_loss)):
        a = fisher(model, loss, batches, groups, chunk_size=1)
        b = fisher(model, loss, batches, groups, chunk_size=6)
        np.testing.assert_allclose(a.per_sequence, b.per_sequence, rtol=1e-5)


def outer_reference(uses, shape):
    """Each sequence's summed matrix, formed entry by entry in numpy, and its squared norm."""
    batch = uses[0].cols.shape[0]
    norms = []
    for b in range(batch):
        matrix = np.zeros(shape)
        for use in uses:
            for s in range(use.cols.shape[1]):
                row = np.eye(shape[0])[use.rows[b, s]] if use.one_hot else use.rows[b, s].numpy()
                matrix += np.outer(row, use.cols[b, s].numpy())
        norms.append((matrix**2).sum())
    return np.array(norms)


def test_both_forms_of_a_tied_matrix_norm_square_the_summed_gradient():
    generator = torch.Generator().manual_seed(2)
    vocab, hidden = 7, 3
    tokens = torch.randint(0, vocab, (2, 5), generator=generator)
    embedding = _Outer(tokens, torch.randn(2, 5, hidden, generator=generator))
    decoder = _Outer(torch.randn(2, 4, vocab, generator=generator), torch.randn(2, 4, hidden, generator=generator))
    for uses in ([embedding], [decoder], [embedding, decoder], [decoder, embedding, embedding]):
        expected = outer_reference(uses, (vocab, hidden))
        np.testing.assert_allclose(_gram_norm(uses).numpy(), expected, rtol=1e-5)
        np.testing.assert_allclose(_materialised_norm(uses, vocab).numpy(), expected, rtol=1e-5)
    # The squared norm of a sum is not the sum of squared norms: the cross term counts.
    assert not np.allclose(_gram_norm([embedding, decoder]), _gram_norm([embedding]) + _gram_norm([decoder]))


class _Scaled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


@pytest.mark.parametrize("module,rejected", [
    (nn.Conv1d(3, 3, 1), "0.weight"),
    (_Scaled(3, 3), "0.weight"),  # a subclass may compute otherwise: no rule
])
def test_a_parameter_without_a_rule_is_refused(module, rejected):
    model = nn.Sequential(module)
    batches = [{"x": torch.randn(2, 3, 3)}]
    with pytest.raises(ValueError, match=f"no rule for parameter {rejected} of a {type(module).__name__}"):
        per_sample_fisher(model, lambda m, b: m(b["x"]).sum(dim=(1, 2)), batches, {"all": ["0.weight", "0.bias"]})


def test_minibatch_variant_equals_per_sample_only_for_batches_of_one(setup):
    objective, model, batches, _, sequence_losses = setup
    groups = objective.layer_groups(model)

    def batch_loss(model, batch):
        return sequence_losses(model, batch).mean()

    per_sample = per_sample_fisher(model, sequence_losses, batches, groups)
    singles = [{k: v[i : i + 1] for k, v in b.items()} for b in batches for i in range(len(b["input_ids"]))]
    np.testing.assert_allclose(minibatch_fisher(model, batch_loss, singles, groups).per_sequence,
                               per_sample.per_sequence, rtol=1e-5)
    # With real mini-batches, squaring the mean gradient loses the disagreeing directions.
    pooled = minibatch_fisher(model, batch_loss, batches, groups)
    assert (pooled.totals() < per_sample.totals()).all()


@pytest.mark.parametrize("fisher", [per_sample_fisher, per_sample_fisher_vmap])
def test_groups_must_partition_the_parameters(setup, fisher):
    objective, model, batches, sequence_loss, sequence_losses = setup
    loss = sequence_losses if fisher is per_sample_fisher else sequence_loss
    groups = objective.layer_groups(model)
    broken = {**groups, "head": groups["head"][1:]}
    with pytest.raises(ValueError, match="missing"):
        fisher(model, loss, batches, broken)
    doubled = {**groups, "extra": groups["head"][:1]}
    with pytest.raises(ValueError, match="more than one"):
        fisher(model, loss, batches, doubled)
