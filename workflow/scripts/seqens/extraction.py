"""What is read out of each trained member, always at the same inputs.

Every member of every objective is queried at its condition's evaluation positions
(seqens.positions), so members are compared on identical inputs. What "the prediction at a
position" means per objective is the objective's ``logits_at`` (mlm/randommask: the position
replaced by [MASK]; mae: the position hidden from the encoder; clm: the next-token
distribution from the left context).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import InputError
from .io import atomic_path, save_array_atomic, sha256_file, write_json_atomic
from .objectives.base import Objective
from .positions import EvalPositions
from .progress import progress


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


def check_member_tokenizer(member_dir: Path, condition_tokenizer_dir: Path, member: str) -> None:
    """A member must have been trained with its condition's tokenizer."""
    mine, expected = Path(member_dir) / "tokenizer.json", Path(condition_tokenizer_dir) / "tokenizer.json"
    if not mine.is_file():
        raise InputError(f"member {member}: {member_dir} has no tokenizer.json (not a trained member directory)")
    if _vocab_of(mine) != _vocab_of(expected):
        raise InputError(f"member {member}: trained with another tokenizer than its condition's ({condition_tokenizer_dir})")


def _vocab_of(tokenizer_json: Path) -> dict:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_json)).get_vocab(with_added_tokens=True)


def check_weights(member_dir: Path, record: dict, member: str) -> None:
    """The member's weight files must be those its training wrote (manifest checksums)."""
    if not record.get("weights"):
        raise InputError(
            f"member {member}: {member_dir}/manifest.json records no weight checksums; {how_to_retrain(member_dir)}"
        )
    for name, digest in record["weights"].items():
        path = member_dir / name
        if not path.is_file():
            raise InputError(f"member {member}: {path} is missing; {how_to_retrain(member_dir)}")
        if sha256_file(path) != digest:
            raise InputError(
                f"member {member}: {path} is not the file its training wrote (sha256 differs from manifest.json: "
                f"truncated or replaced); {how_to_retrain(member_dir)}"
            )


def how_to_retrain(member_dir: Path) -> str:
    """How to retrain a member whose folder cannot be used: without its files, the workflow's
    train_member job is out of date (its outputs are the folder's files)."""
    return f"retrain it: `rm -r {member_dir}`, then run snakemake again as before"


@dataclass
class LoadedMember:
    name: str
    objective: Objective
    model: torch.nn.Module


def load_member(member_dir: str | Path, condition_tokenizer_dir: str | Path, wildcards) -> LoadedMember:
    """Load a trained member for extraction, after checking it belongs to its condition."""
    import json

    from .config import Member
    from .objectives import make_objective
    from .special import special_tokens
    from .tokenization import SequenceTokenizer

    name = Member.from_wildcards(wildcards).path
    member_dir = Path(member_dir)
    if not (member_dir / "manifest.json").is_file():
        raise InputError(f"member {name}: {member_dir} is missing or incomplete (no manifest.json)")
    check_member_tokenizer(member_dir, Path(condition_tokenizer_dir), name)
    record = json.loads((member_dir / "manifest.json").read_text())
    check_weights(member_dir, record, name)
    trained_as = {key: record.get("member", {}).get(key) for key in ("architecture", "objective")}
    if trained_as != {"architecture": wildcards.architecture, "objective": wildcards.objective}:
        raise InputError(
            f"member {name}: {member_dir} holds a model trained as {trained_as}, not as "
            f"{wildcards.architecture}/{wildcards.objective} (retrain it)"
        )
    vocab_size = SequenceTokenizer(condition_tokenizer_dir).vocab_size
    objective = make_objective(
        wildcards.objective, special_tokens(vocab_size), record.get("objective_params"), wildcards.architecture
    )
    model = objective.load_pretrained(member_dir).eval()
    return LoadedMember(name, objective, model)


def member_fisher(
    member: LoadedMember,
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
    from .fisher import minibatch_fisher, per_sample_fisher

    objective, model = member.objective, member.model.to(device).eval()
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
