"""A member's folder: the one place that writes it, reads it, checks it and loads it (a
published member's model and tokenizer are written by seqens.published, its manifest here).

The folder (results/models/{corpus}/{tokenizer}/{architecture}/{objective}/seed{seed}/)
holds the model as ``save_pretrained`` writes it, a copy of its condition's tokenizer, the
training log (``training_log.csv``, losses in nats), the Fisher during training
(``fisher_log.csv``, with training.fisher_log), ``manifest.json`` (what the member was made
from, and its weights' checksums) and a model card (``README.md``). Every later stage goes
through this module: the tables read the manifest and the logs, extraction and the probes
load the checked model.

Reading needs pandas only (the tables' env has no torch); writing and loading import torch,
transformers and tokenizers when called.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .errors import InputError
from .io import atomic_path, fingerprint, manifest, sha256_file, write_json_atomic
from .objectives import make_objective

if TYPE_CHECKING:
    import torch

    from .config import Member
    from .objectives.base import Objective

MANIFEST = "manifest.json"
TRAINING_LOG = "training_log.csv"
FISHER_LOG = "fisher_log.csv"
MODEL_CARD = "README.md"
# What each TrainResult.precision computes in, in the model card's words.
ARITHMETIC = {"fp32": "float32", "tf32": "float32 with TF32 matmuls", "bf16": "bfloat16 autocast"}
TOKENIZER_SPEC = "seqens_tokenizer.json"  # seqens's own description of the tokenizer, beside transformers' files


@dataclass
class TrainResult:
    """What a training run (seqens.training.train_member) reports besides the model: the
    folder's logs and the manifest's "training" record."""

    log: pd.DataFrame
    wall_time_s: float
    resumed_from_step: int | None
    device: str
    autocast: str | None
    parameters: int
    precision: str = "fp32"  # what it computed in: fp32, tf32 (fp32 with TF32 matmuls) or bf16 (autocast)
    selected_step: int | None = None  # the step whose weights were kept (keep: best's evaluation, or the last)
    fisher_log: pd.DataFrame | None = None


# --- provenance ---


def member_provenance(config_slice: dict, tokenizer_dir: Path, train_path: Path, eval_path: Path,
                      member: dict, objective: Objective) -> dict:
    """What a member was made from (config slice, input checksums, versions): the start of its
    manifest, and, with the inputs' checksums, the fingerprint its checkpoints carry."""
    return manifest(
        config=config_slice,
        inputs={"tokenizer": Path(tokenizer_dir) / "tokenizer.json", "train_tokens": train_path, "eval_tokens": eval_path},
        member=member,
        objective_params=objective.params,
    )


def provenance_fingerprint(provenance: dict) -> str:
    return fingerprint(provenance["config"], {name: entry["sha256"] for name, entry in provenance["inputs"].items()})


# --- writing ---


def write_member(
    objective: Objective,
    model: torch.nn.Module,
    result: TrainResult,
    tokenizer_dir: Path,
    out_dir: Path,
    provenance: dict,
) -> None:
    """Save a member's folder atomically: model (save_pretrained), tokenizer, logs, manifest,
    model card."""
    import torch
    from transformers import AutoTokenizer

    with atomic_path(out_dir, directory=True) as tmp:
        objective.save_pretrained(model.cpu(), tmp)
        AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(tmp)
        spec_file = Path(tokenizer_dir) / TOKENIZER_SPEC
        if spec_file.exists():
            (tmp / TOKENIZER_SPEC).write_bytes(spec_file.read_bytes())
        result.log.to_csv(tmp / TRAINING_LOG, index=False)
        if result.fisher_log is not None:
            result.fisher_log.to_csv(tmp / FISHER_LOG, index=False)
        record = {
            **provenance,
            "training": {
                "wall_time_s": result.wall_time_s,
                "resumed_from_step": result.resumed_from_step,
                "selected_step": result.selected_step,
                "device": result.device,
                "autocast": result.autocast,
                "precision": result.precision,
                "parameters": result.parameters,
                "torch_threads": torch.get_num_threads(),
                "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            },
        }
        record = write_manifest(tmp, record)
        spec = json.loads(spec_file.read_text()) if spec_file.exists() else {}
        (tmp / MODEL_CARD).write_text(model_card(objective, record, result, spec))


def write_manifest(folder: Path, record: dict) -> dict:
    """Write a member folder's manifest (trained or published): ``record`` with the checksums
    of the folder's weight files, which are checked before extraction (a truncated or
    replaced file is named). Returns what it wrote."""
    weights = {path.name: sha256_file(path) for path in sorted(Path(folder).glob("*.safetensors"))}
    record = {**record, "weights": weights}
    write_json_atomic(Path(folder) / MANIFEST, record)
    return record


def _input_rules(tokenizer_spec: dict) -> str:
    """What a user must feed the tokenizer, by tokenizer type."""
    kind, kind_of = tokenizer_spec.get("kind"), tokenizer_spec.get("type")
    if kind == "text":
        return "plain text; write `[MASK]` where a token is to be predicted."
    rules = "bases A, C, G, T, N in any case (soft-masked lower case is upper-cased)"
    if kind_of == "kmer":
        k = tokenizer_spec["k"]
        if tokenizer_spec.get("stride", k) == k:
            return (
                f"{rules}, cut into consecutive {k}-mers as the Nucleotide Transformer does: each N, and the bases "
                f"before an N or the end that do not fill a {k}-mer, are single-nucleotide tokens."
            )
        return (
            f"{rules}, written as space-separated overlapping {k}-mers, with each N and each run shorter than {k} "
            "as single nucleotides (`seqens.tokenization.kmerize`)."
        )
    return rules + "."


def model_card(objective: Objective, record: dict, result: TrainResult, tokenizer_spec: dict | None = None) -> str:
    """A Hugging Face model card: what the member is, its data and recipe, what it reached,
    and how to load it."""
    member, config = record.get("member", {}), record.get("config", {})
    name = "/".join(str(member.get(k, "?")) for k in ("corpus", "tokenizer", "architecture", "objective"))
    name += f"/seed{member.get('seed', '?')}"
    training, data = config.get("training", {}), config.get("data", {})
    evaluated = result.log.dropna(subset=["eval_loss"]).set_index("step")["eval_loss"]
    kept = result.selected_step
    selection = {
        "best": f" at step {kept}, the evaluation with the lowest held-out loss (`keep: best`)",
        "best_saved": f" at step {kept}, the checkpoint the paper's Trainer would load (`keep: best_saved`: the "
        "last saved step whose held-out loss was below every earlier evaluation's)",
    }.get(training.get("keep"), "")
    final = (
        f"{evaluated[kept] / math.log(2):.3f} bits per predicted token{selection}, the `{objective.name}` loss on held-out "
        "sequences with the objective's own corruption of the input (what the member learned beyond token "
        "frequencies is `bits_beyond_unigram` in the study's results/tables/outputs_summary.csv)"
        if kept in evaluated.index else "not evaluated"
    )
    loading = (
        "The encoder (the decoder and head of the masked autoencoder are in mae_decoder.safetensors):"
        if objective.name == "mae" else "The model with its prediction head:"
    )
    return f"""---
library_name: transformers
tags: [seqens, ensemble-member, {member.get("architecture", "")}, {objective.name}]
---

# Ensemble member {name}

One member of an ensemble trained by the seqens workflow: the members of an ensemble share
architecture, data and recipe and differ only in their seed.

- **Model**: {member.get("architecture")} ({result.parameters:,} parameters), size preset
  {json.dumps(config.get("model", {}))}, trained with the `{objective.name}` objective
  ({json.dumps(objective.params)}).
- **Data**: corpus `{member.get("corpus")}` with tokenizer `{member.get("tokenizer")}`;
  {data.get("train_sequences")} training sequences of {data.get("sequence_length")} tokens (data seed
  {config.get("data_seed")}). Input checksums and package versions: `manifest.json`.
- **Recipe**: {training.get("steps")} steps of {training.get("batch_size")} sequences, learning rate
  {training.get("learning_rate")}, weight decay {training.get("weight_decay")}, computed in
  {ARITHMETIC[result.precision]} on {result.device}; seed {member.get("seed")}. The training and held-out
  losses at every logged step are in `training_log.csv`, in nats (divide by ln 2 = 0.693 for
  bits, the unit of this card).
- **Reached**: {final}; {result.wall_time_s:.0f} s of training.
- **Input**: {_input_rules(tokenizer_spec or {})}

## Loading

With transformers 5 (the tokenizer is saved by transformers 5's `TokenizersBackend`).
{loading}

```python
from transformers import AutoTokenizer, {objective.auto_class}

tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
model = {objective.auto_class}.from_pretrained("path/to/this/folder")
```
"""


# --- reading ---


def read_manifest(member: Member, member_dir: Path) -> dict:
    path = Path(member_dir) / MANIFEST
    if not path.is_file():
        raise InputError(f"member {member.path}: {member_dir} is missing or incomplete (no {MANIFEST})")
    return json.loads(path.read_text())


def read_training_log(member: Member, member_dir: Path) -> pd.DataFrame:
    """The losses (nats) and throughput at every logged step (seqens.training.LOG_COLUMNS)."""
    path = Path(member_dir) / TRAINING_LOG
    if not path.is_file():
        raise InputError(f"member {member.path}: {path} is missing; {how_to_retrain(member_dir)}")
    return pd.read_csv(path)


def read_fisher_log(member: Member, member_dir: Path) -> pd.DataFrame:
    """The layer-wise Fisher during training: one row per definition, step and layer group."""
    path = Path(member_dir) / FISHER_LOG
    if not path.is_file():
        raise InputError(f"member {member.path}: {path} is missing (trained before training.fisher_log was set?)")
    log = pd.read_csv(path)
    if "definition" not in log.columns:
        raise InputError(
            f"member {member.path}: {path} holds one definition of the Fisher only (trained before both were "
            f"logged); {how_to_retrain(member_dir)}"
        )
    return log


# --- checks ---


def check_member_tokenizer(member: Member, member_dir: Path, condition_tokenizer_dir: Path) -> None:
    """A member must have been trained with its condition's tokenizer."""
    mine, expected = Path(member_dir) / "tokenizer.json", Path(condition_tokenizer_dir) / "tokenizer.json"
    if not mine.is_file():
        raise InputError(f"member {member.path}: {member_dir} has no tokenizer.json (not a trained member directory)")
    if _vocab_of(mine) != _vocab_of(expected):
        raise InputError(
            f"member {member.path}: trained with another tokenizer than its condition's ({condition_tokenizer_dir})"
        )


def _vocab_of(tokenizer_json: Path) -> dict:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(tokenizer_json)).get_vocab(with_added_tokens=True)


def check_weights(member: Member, member_dir: Path, record: dict) -> None:
    """The member's weight files must be those its training wrote (manifest checksums)."""
    member_dir = Path(member_dir)
    if not record.get("weights"):
        raise InputError(
            f"member {member.path}: {member_dir}/{MANIFEST} records no weight checksums; {how_to_retrain(member_dir)}"
        )
    for name, digest in record["weights"].items():
        path = member_dir / name
        if not path.is_file():
            raise InputError(f"member {member.path}: {path} is missing; {how_to_retrain(member_dir)}")
        if sha256_file(path) != digest:
            raise InputError(
                f"member {member.path}: {path} is not the file its training wrote (sha256 differs from {MANIFEST}: "
                f"truncated or replaced); {how_to_retrain(member_dir)}"
            )


def how_to_retrain(member_dir: Path) -> str:
    """How to retrain a member whose folder cannot be used: without its files, the workflow's
    train_member job is out of date (its outputs are the folder's files)."""
    return f"retrain it: `rm -r {member_dir}`, then run snakemake again as before"


# --- loading ---


@dataclass
class LoadedMember:
    name: str  # Member.path
    objective: Objective
    model: torch.nn.Module


def load_member(member: Member, member_dir: Path, condition_tokenizer_dir: Path) -> LoadedMember:
    """A member's model in eval mode, after checking that its folder is complete, that
    it was trained with its condition's tokenizer, as ``member``'s architecture and objective,
    and that its weights are those its training wrote."""
    from .published_architectures import check_remote_code, published_architecture
    from .tokenization import SequenceTokenizer

    member_dir = Path(member_dir)
    record = read_manifest(member, member_dir)
    check_member_tokenizer(member, member_dir, condition_tokenizer_dir)
    check_weights(member, member_dir, record)
    trained_as = {key: record.get("member", {}).get(key) for key in ("architecture", "objective")}
    if trained_as != {"architecture": member.architecture, "objective": member.objective}:
        raise InputError(
            f"member {member.path}: {member_dir} holds a model trained as {trained_as}, not as "
            f"{member.architecture}/{member.objective} (retrain it)"
        )
    special = SequenceTokenizer(condition_tokenizer_dir).special
    # A published member's folder names its model type (its layout, not the ensemble's label)
    # and its entry, whose trust_remote_code lets it run its repository's code here as at fetching.
    model_type = record["member"].get("model_type")
    architecture = member.architecture
    if model_type:
        trusted, key = record["config"]["published"].get("trust_remote_code", False), record["config"].get("key")
        check_remote_code(member_dir, trusted, f"member {member.path}: its model", key or "published.NAME")
        architecture = published_architecture(model_type, member.objective, trusted)
    objective = make_objective(member.objective, special, record.get("objective_params"), architecture)
    model = objective.load_pretrained(member_dir).eval()
    return LoadedMember(member.path, objective, model)
