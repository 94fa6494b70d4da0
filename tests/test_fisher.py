"""Per-sample empirical Fisher: equal to a per-example loop, groups, the mini-batch variant."""

import numpy as np
import pytest
import torch

from seqens.fisher import minibatch_fisher, per_sample_fisher, per_sample_fisher_loop
from seqens.objectives import SpecialTokens, make_objective

from conftest import TINY_PRESET

SPECIAL = SpecialTokens(pad=0, unk=1, cls=2, sep=3, mask=4, vocab_size=40)


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    objective = make_objective("mlm", SPECIAL, {})
    model = objective.build_model({**TINY_PRESET, "hidden": 16, "ffn": 32}).eval()
    generator = torch.Generator().manual_seed(1)
    input_ids = torch.randint(5, 40, (10, 24), generator=generator)
    input_ids[:, 0] = SPECIAL.cls
    positions = (torch.rand(input_ids.shape, generator=generator) < 0.2) & (input_ids != SPECIAL.cls)
    positions[:, 5] = True
    batches = [{"input_ids": input_ids[:6], "positions": positions[:6]},
               {"input_ids": input_ids[6:], "positions": positions[6:]}]

    def sequence_loss(model, example):
        return objective.sequence_loss(model, example["input_ids"], example["positions"])

    return objective, model, batches, sequence_loss


def test_per_sample_equals_per_example_loop(setup):
    objective, model, batches, sequence_loss = setup
    groups = objective.layer_groups(model)
    fast = per_sample_fisher(model, sequence_loss, batches, groups, chunk_size=4)
    slow = per_sample_fisher_loop(model, sequence_loss, batches, groups)
    assert fast.per_sequence.shape == (10, 4)  # embeddings, layer.0, layer.1, head
    np.testing.assert_allclose(fast.per_sequence, slow.per_sequence, rtol=1e-5)
    assert fast.fractions().sum() == pytest.approx(1.0)
    frame = fast.to_frame()
    assert list(frame["group"]) == ["embeddings", "layer.0", "layer.1", "head"]
    assert frame["n_parameters"].sum() == sum(p.numel() for p in model.parameters())
    assert (frame["fisher_total"] > 0).all()


def test_chunk_size_does_not_change_results(setup):
    objective, model, batches, sequence_loss = setup
    groups = objective.layer_groups(model)
    a = per_sample_fisher(model, sequence_loss, batches, groups, chunk_size=1)
    b = per_sample_fisher(model, sequence_loss, batches, groups, chunk_size=6)
    np.testing.assert_allclose(a.per_sequence, b.per_sequence, rtol=1e-5)


def test_minibatch_variant_equals_per_sample_only_for_batches_of_one(setup):
    objective, model, batches, sequence_loss = setup
    groups = objective.layer_groups(model)

    def batch_loss(model, batch):
        return torch.stack([sequence_loss(model, {k: v[i] for k, v in batch.items()})
                            for i in range(len(batch["input_ids"]))]).mean()

    per_sample = per_sample_fisher(model, sequence_loss, batches, groups)
    singles = [{k: v[i : i + 1] for k, v in b.items()} for b in batches for i in range(len(b["input_ids"]))]
    np.testing.assert_allclose(minibatch_fisher(model, batch_loss, singles, groups).per_sequence,
                               per_sample.per_sequence, rtol=1e-5)
    # With real mini-batches, squaring the mean gradient loses the disagreeing directions.
    pooled = minibatch_fisher(model, batch_loss, batches, groups)
    assert (pooled.totals() < per_sample.totals()).all()


def test_groups_must_partition_the_parameters(setup):
    objective, model, batches, sequence_loss = setup
    groups = objective.layer_groups(model)
    broken = {**groups, "head": groups["head"][1:]}
    with pytest.raises(ValueError, match="missing"):
        per_sample_fisher(model, sequence_loss, batches, broken)
    doubled = {**groups, "extra": groups["head"][:1]}
    with pytest.raises(ValueError, match="more than one"):
        per_sample_fisher(model, sequence_loss, batches, doubled)
