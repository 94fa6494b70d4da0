"""What is read out of each trained member, always at the same inputs.

The evaluation positions are drawn once per condition from the data seed: a fixed set of
held-out sequences and, in each, ``mask_fraction`` of its non-special tokens (at least one).
Every member of every objective is queried at exactly these positions, so members are
compared on identical inputs. What "the prediction at a position" means per objective is
the objective's ``logits_at`` (mlm/randommask: the position replaced by [MASK]; mae: the
position hidden from the encoder; clm: the next-token distribution from the left context).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .io import InputError, atomic_path, sha256_file
from .objectives import Objective
from .tokenization import SPECIAL_TOKENS


@dataclass
class EvalPositions:
    """Held-out sequences and the boolean mask of the positions to predict."""

    input_ids: np.ndarray  # [S, L] int64
    positions: np.ndarray  # [S, L] bool
    sequence_indices: np.ndarray  # rows of the eval array they come from
    eval_sha256: str

    @property
    def targets(self) -> np.ndarray:
        return self.input_ids[self.positions]

    @property
    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256(self.input_ids.tobytes())
        digest.update(np.packbits(self.positions).tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(
                    handle,
                    input_ids=self.input_ids,
                    positions=self.positions,
                    sequence_indices=self.sequence_indices,
                    eval_sha256=np.array(self.eval_sha256),
                )

    @classmethod
    def load(cls, path: Path) -> "EvalPositions":
        with np.load(path) as data:
            return cls(
                input_ids=data["input_ids"],
                positions=data["positions"],
                sequence_indices=data["sequence_indices"],
                eval_sha256=str(data["eval_sha256"]),
            )


def draw_eval_positions(
    eval_tokens_path: Path, *, n_sequences: int | None, mask_fraction: float, seed: int
) -> EvalPositions:
    """Pick the evaluation sequences (the first n, in order) and, per sequence, exactly
    round(mask_fraction x non-special tokens) positions (at least one), from ``seed``."""
    tokens = np.load(eval_tokens_path, mmap_mode="r")
    n = len(tokens) if n_sequences is None else n_sequences
    if n > len(tokens):
        raise InputError(f"{eval_tokens_path}: extraction asks for {n} sequences, the eval split has {len(tokens)}")
    input_ids = np.asarray(tokens[:n], dtype=np.int64)
    maskable = input_ids >= len(SPECIAL_TOKENS)
    rng = np.random.default_rng([seed, 2])  # stream 2: evaluation positions
    # Random keys, with non-maskable tokens pushed to the end; take the first k per row.
    keys = np.where(maskable, rng.random(input_ids.shape), np.inf)
    order = np.argsort(keys, axis=1, kind="stable")
    counts = np.maximum(1, np.round(mask_fraction * maskable.sum(axis=1))).astype(int)
    counts = np.minimum(counts, maskable.sum(axis=1))
    rank = np.argsort(order, axis=1)
    positions = rank < counts[:, None]
    return EvalPositions(input_ids, positions, np.arange(n), sha256_file(eval_tokens_path))


@torch.no_grad()
def output_distributions(
    objective: Objective, model: torch.nn.Module, eval_positions: EvalPositions, *, batch_size: int, device
) -> np.ndarray:
    """Predicted distributions [n_positions, V] (float32) in row-major order of positions."""
    model.eval().to(device)
    chunks = []
    for start in range(0, len(eval_positions.input_ids), batch_size):
        ids = torch.from_numpy(eval_positions.input_ids[start : start + batch_size]).to(device)
        where = torch.from_numpy(eval_positions.positions[start : start + batch_size]).to(device)
        logits = objective.logits_at(model, ids, where).float()
        chunks.append(torch.softmax(logits, dim=-1).cpu().numpy())
    return np.concatenate(chunks, axis=0)


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
        raise InputError(f"member {member}: {member_dir}/manifest.json records no weight checksums (retrain the member)")
    for name, digest in record["weights"].items():
        path = member_dir / name
        if not path.is_file():
            raise InputError(f"member {member}: {path} is missing (retrain the member)")
        if sha256_file(path) != digest:
            raise InputError(
                f"member {member}: {path} is not the file its training wrote (sha256 differs from manifest.json: "
                "truncated or replaced; retrain the member)"
            )


@dataclass
class LoadedMember:
    name: str
    objective: Objective
    model: torch.nn.Module


def load_member(member_dir: str | Path, condition_tokenizer_dir: str | Path, wildcards) -> LoadedMember:
    """Load a trained member for extraction, after checking it belongs to its condition."""
    import json

    from .objectives import make_objective
    from .tokenization import SequenceTokenizer, special_tokens

    name = f"{wildcards.corpus}/{wildcards.tokenizer}/{wildcards.architecture}/{wildcards.objective}/seed{wildcards.seed}"
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
    """Layer-grouped empirical Fisher on the first n evaluation sequences, at their positions."""
    from .fisher import minibatch_fisher, per_sample_fisher

    objective, model = member.objective, member.model.to(device).eval()
    input_ids = torch.from_numpy(eval_positions.input_ids[:n_sequences])
    positions = torch.from_numpy(eval_positions.positions[:n_sequences])
    batches = [
        {"input_ids": input_ids[i : i + chunk_size], "positions": positions[i : i + chunk_size]}
        for i in range(0, len(input_ids), chunk_size)
    ]
    groups = objective.layer_groups(model)

    def sequence_loss(model, example):
        return objective.sequence_loss(model, example["input_ids"], example["positions"])

    if method == "per_sample":
        return per_sample_fisher(model, sequence_loss, batches, groups, chunk_size=chunk_size, device=device)

    def batch_loss(model, batch):
        losses = [sequence_loss(model, {k: v[i] for k, v in batch.items()}) for i in range(len(batch["input_ids"]))]
        return torch.stack(losses).mean()

    return minibatch_fisher(model, batch_loss, batches, groups)
