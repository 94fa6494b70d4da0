"""What is read out of each trained member, always at the same inputs.

Every member of every objective is queried at its condition's evaluation positions
(seqens.positions), so members are compared on identical inputs. What "the prediction at a
position" means per objective is the objective's ``logits_at`` (mlm/randommask: the position
replaced by [MASK]; mae: the position hidden from the encoder; clm: the next-token
distribution from the left context). The member comes loaded and checked from
seqens.member; ``extract_member`` is what the extract jobs write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .fisher import FisherResult, minibatch_fisher, per_sample_fisher
from .io import atomic_path, save_array_atomic, write_json_atomic
from .layers import EMBEDDINGS, ENCODER, HEAD
from .member import LoadedMember
from .objectives.base import Objective
from .positions import EvalPositions
from .progress import progress

log = logging.getLogger(__name__)


@torch.no_grad()
def output_distributions(
    objective: Objective, model: torch.nn.Module, eval_positions: EvalPositions, *, batch_size: int, device
) -> np.ndarray:
    """Predicted distributions [n_positions, V] (float32) in row-major order of positions."""
    model.eval().to(device)
    chunks = []
    starts = range(0, len(eval_positions.input_ids), batch_size)
    for start in progress(starts, desc="distributions: batches", unit="batch"):
        ids = torch.from_numpy(eval_positions.input_ids[start : start + batch_size]).to(device)
        where = torch.from_numpy(eval_positions.positions[start : start + batch_size]).to(device)
        logits = objective.logits_at(model, ids, where).float()
        chunks.append(torch.softmax(logits, dim=-1).cpu().numpy())
    return np.concatenate(chunks, axis=0)


def save_distributions(probs: np.ndarray, eval_positions: EvalPositions, member: str, array_path, record_path) -> None:
    """A member's distributions, and the record of the positions they were taken at."""
    save_array_atomic(array_path, probs)
    write_json_atomic(
        record_path, {"member": member, "positions_fingerprint": eval_positions.fingerprint, "shape": list(probs.shape)}
    )


def save_fisher(result, table_path, rows_path) -> None:
    """A member's Fisher: its table by group and its rows (per sequence, or per batch)."""
    save_array_atomic(rows_path, result.per_sequence)
    with atomic_path(table_path) as tmp:
        result.to_frame().to_csv(tmp, index=False)


@torch.no_grad()
def contextual_embeddings(
    objective: Objective, model: torch.nn.Module, eval_positions: EvalPositions, *, n_sequences: int, batch_size: int, device
) -> np.ndarray:
    """Every layer's hidden states mean-pooled over each of the first ``n_sequences``
    evaluation sequences, on the input the objective predicts the evaluation positions from
    (mlm, randommask: those positions [MASK]ed): [layers + 1, n, H] float32, the embedding
    layer's output first (seqens.contextual measures them)."""
    model.eval().to(device)
    chunks = []
    for start in progress(range(0, n_sequences, batch_size), desc="contextual embeddings: batches", unit="batch"):
        stop = min(start + batch_size, n_sequences)
        ids = torch.from_numpy(eval_positions.input_ids[start:stop]).to(device)
        where = torch.from_numpy(eval_positions.positions[start:stop]).to(device)
        states, covered = objective.hidden_states(model, ids, where)
        weights = covered.unsqueeze(-1).float()
        # mean_pool of the paper's code (embeddings.py:101-105): the covered tokens' mean.
        pooled = [(state.float() * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9) for state in states]
        chunks.append(torch.stack(pooled).cpu().numpy())
    return np.concatenate(chunks, axis=1)


def member_fisher(
    objective: Objective,
    model: torch.nn.Module,
    eval_positions: EvalPositions,
    *,
    n_sequences: int,
    method: str,
    chunk_size: int,
    device,
):
    """Layer-grouped empirical Fisher on the first n evaluation sequences, at their positions:
    ``per_sample`` from ghost norms (seqens.fisher), ``minibatch`` the squared gradient of
    each chunk's mean loss."""
    model = model.to(device).eval()
    input_ids = torch.from_numpy(eval_positions.input_ids[:n_sequences])
    positions = torch.from_numpy(eval_positions.positions[:n_sequences])
    batches = progress(
        [
            {"input_ids": input_ids[i : i + chunk_size], "positions": positions[i : i + chunk_size]}
            for i in range(0, len(input_ids), chunk_size)
        ],
        desc=f"fisher ({method}): chunks of {chunk_size} sequences",
        unit="chunk",
    )
    groups = objective.layer_groups(model)

    def sequence_losses(model, batch):
        return objective.sequence_losses(model, batch["input_ids"], batch["positions"])

    if method == "per_sample":
        return per_sample_fisher(model, sequence_losses, batches, groups, chunk_size=chunk_size, device=device)

    def batch_loss(model, batch):
        # As the paper's code (F.cross_entropy over the batch's masked tokens): the mean NLL
        # per position of the batch, so batches with more positions do not weigh more.
        return sequence_losses(model, batch).sum() / batch["positions"].sum().clamp_min(1)

    result = minibatch_fisher(model, batch_loss, batches, groups)
    # Theirs sums the squared batch gradients and divides by all positions; the result's
    # totals are means over batches, so each row is scaled by batches / positions.
    result.per_sequence *= len(result.per_sequence) / max(1, int(positions.sum()))
    return result


def callback_fisher(objective: Objective, model: torch.nn.Module, batches: Sequence[dict], *, device) -> FisherResult:
    """The paper's Fisher during training (lbcb-sci/GFMs @277899c, src/train/callback.py
    ``FisherCallback._compute_fisher``): over the held-out ``batches`` (masked as in
    training), the squared gradient of each batch's mean loss times its number of sequences,
    summed over batches and divided by all sequences, in its three groups: ``embeddings``,
    ``encoder`` (every layer) and ``head`` (its prefixes bert.embeddings, bert.encoder, cls).
    A batch without a predicted position (the paper's loss is NaN there) adds nothing."""
    layers = objective.layer_groups(model)
    groups = {
        EMBEDDINGS: layers[EMBEDDINGS],
        ENCODER: [name for group, names in layers.items() if group not in (EMBEDDINGS, HEAD) for name in names],
        HEAD: layers[HEAD],
    }
    predicted = [batch for batch in batches if batch["selected"].any()]
    result = minibatch_fisher(model, objective.loss, predicted, groups, device=device)
    sizes = np.array([len(batch["selected"]) for batch in predicted], dtype=np.float64)
    # minibatch_fisher's totals are means over its rows: each row is scaled so that their
    # mean is the callback's sum over batches of (squared gradient x sequences) / sequences.
    n_sequences = sum(len(batch["selected"]) for batch in batches)
    result.per_sequence *= sizes[:, None] * len(predicted) / n_sequences
    return result


@dataclass(frozen=True)
class ExtractionFiles:
    """Where one member's extraction under one definition is written."""

    distributions: Path
    record: Path  # the positions the distributions were taken at
    fisher: Path  # the table by layer group
    fisher_rows: Path  # per sequence (per_sample) or per batch (minibatch)
    embeddings: Path | None = None  # the static input embeddings, where asked for


@dataclass(frozen=True)
class Extraction:
    """One definition's extraction of a member: its distributions at ``positions``, and its
    Fisher by ``fisher_method`` on the first ``fisher_sequences`` of ``fisher_positions``."""

    positions: EvalPositions
    fisher_positions: EvalPositions
    fisher_sequences: int
    fisher_method: str
    fisher_chunk_size: int
    files: ExtractionFiles


def extract_member(member: LoadedMember, extractions: Sequence[Extraction], *, batch_size: int, device) -> None:
    """One loaded member's extractions (one per definition): every definition's
    distributions, the input embeddings (where ``files.embeddings`` names a file), then every
    Fisher, last, as an estimator may switch the model's attention implementation."""
    for extraction in extractions:
        positions, files = extraction.positions, extraction.files
        probs = output_distributions(member.objective, member.model, positions, batch_size=batch_size, device=device)
        save_distributions(probs, positions, member.name, files.distributions, files.record)
        log.info("member %s: distributions %s at %s", member.name, probs.shape, files.distributions)
        if files.embeddings:
            embeddings = member.objective.input_embeddings(member.model).detach().float().cpu().numpy()
            save_array_atomic(files.embeddings, embeddings)
            log.info("member %s: embeddings %s", member.name, embeddings.shape)
    for extraction in extractions:
        result = member_fisher(
            member.objective,
            member.model,
            extraction.fisher_positions,
            n_sequences=extraction.fisher_sequences,
            method=extraction.fisher_method,
            chunk_size=extraction.fisher_chunk_size,
            device=device,
        )
        save_fisher(result, extraction.files.fisher, extraction.files.fisher_rows)
        log.info(
            "member %s: Fisher (%s) fractions %s",
            member.name, extraction.fisher_method, dict(zip(result.groups, result.fractions().round(4))),
        )
