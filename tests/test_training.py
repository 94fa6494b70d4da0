"""Training: determinism, resume after a kill, loadable outputs, learning on real data."""

import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from seqens.config import Condition, Member
from seqens.distributed import check_devices, launch
from seqens.errors import InputError
from seqens.extraction import ExtractionFiles, extract_member, member_fisher, output_distributions
from seqens.io import fingerprint
from seqens.member import load_member, read_fisher_log, read_manifest, read_training_log, write_member
from seqens.objectives import make_objective
from seqens.packing import pack_sequences
from seqens.positions import EvalPositions, draw_bernoulli_positions, draw_eval_positions
from seqens.special import special_tokens
from seqens.tokenization import SequenceTokenizer, build_tokenizer, save_tokenizer
import seqens.training
from seqens.distributed import Ranks
from seqens.training import DataOrder, FisherDuringTraining, TrainSettings, train_member, warmup_cosine

from conftest import REPO, TINY_PRESET

SETTINGS = dict(steps=12, batch_size=8, learning_rate=3e-3, data_seed=5, eval_every=6, checkpoint_every=4, log_every=2)


@pytest.fixture(scope="module")
def dna_data(tmp_path_factory):
    """A k-mer tokenizer and packed arrays from random DNA with a planted repeat structure."""
    root = tmp_path_factory.mktemp("dna")
    spec = {"type": "kmer", "k": 2, "stride": 2}
    save_tokenizer(build_tokenizer(spec, "dna", []), spec, "dna", root / "tok", model_max_length=32)
    tokenizer = SequenceTokenizer(root / "tok")
    rng = np.random.default_rng(0)
    motifs = ["".join(rng.choice(list("ACGT"), 16)) for _ in range(4)]
    docs = ["".join(motifs[i] for i in rng.integers(0, 4, 8)) for _ in range(200)]
    pack_sequences(iter(docs[:150]), tokenizer, root / "train.npy", n_sequences=64, length=32, what="train")
    pack_sequences(iter(docs[150:]), tokenizer, root / "eval.npy", n_sequences=16, length=32, what="eval")
    return tokenizer, np.load(root / "train.npy", mmap_mode="r"), np.load(root / "eval.npy", mmap_mode="r")


def run(dna_data, seed, tmp_path=None, stop_after=None, preset=None, fisher=None, **overrides):
    tokenizer, train, evaluation = dna_data
    objective = make_objective("mlm", special_tokens(tokenizer.vocab_size), {})
    settings = TrainSettings(**{**SETTINGS, **overrides}, seed=seed)
    checkpoint = tmp_path / "checkpoint.pt" if tmp_path else None
    return objective, *train_member(objective, {**TINY_PRESET, **(preset or {})}, train, evaluation, settings,
                                    checkpoint_path=checkpoint, run_fingerprint="test", progress=False,
                                    stop_after=stop_after, fisher=fisher)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def member(architecture="bert", objective="mlm", seed=1):
    return Member(Condition("c", "t", "dna"), architecture, objective, seed)


def test_same_seed_identical_weights_other_seed_different(dna_data):
    _, model_a, result_a = run(dna_data, seed=1)
    _, model_b, _ = run(dna_data, seed=1)
    _, model_c, _ = run(dna_data, seed=2)
    assert_identical(weights(model_a), weights(model_b))
    assert not torch.equal(model_a.state_dict()["bert.embeddings.word_embeddings.weight"],
                           model_c.state_dict()["bert.embeddings.word_embeddings.weight"])
    log = result_a.log
    assert list(log["step"]) == [2, 4, 6, 8, 10, 12]
    assert log["eval_loss"].notna().sum() == 2 and (log["tokens_per_s"] > 0).all()


def test_progress_lines_show_the_held_out_loss_only_where_it_was_computed(dna_data, caplog):
    caplog.set_level(logging.INFO, logger="seqens.training")
    run(dna_data, seed=1)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert [line.split()[1] for line in lines] == ["2/12", "4/12", "6/12", "8/12", "10/12", "12/12"]
    assert [line.split()[1] for line in lines if " eval_loss " in line] == ["6/12", "12/12"]
    assert not [line for line in lines if "nan" in line]


def test_resume_after_kill_is_bit_identical(dna_data, tmp_path):
    _, uninterrupted, _ = run(dna_data, seed=3)
    # Killed after 6 steps: the checkpoint at step 4 survives (a kill between checkpoints).
    objective, _, _ = run(dna_data, seed=3, tmp_path=tmp_path, checkpoint_every=4, stop_after=6)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 6
    _, resumed, result = run(dna_data, seed=3, tmp_path=tmp_path)
    assert result.resumed_from_step == 6
    assert_identical(weights(uninterrupted), weights(resumed))
    assert list(result.log["step"]) == [2, 4, 6, 8, 10, 12]


def test_corrupt_or_foreign_checkpoint_is_ignored(dna_data, tmp_path, caplog):
    _, reference, _ = run(dna_data, seed=4)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    _, model, result = run(dna_data, seed=4, tmp_path=tmp_path)
    assert result.resumed_from_step is None and "unreadable" in caplog.text
    assert_identical(weights(reference), weights(model))


class WritesAMarkerWhenUnpickled:
    """A pickle that runs code when loaded: writes ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "ran"))


def test_a_planted_checkpoint_runs_no_code_and_training_starts_over(dna_data, tmp_path, caplog):
    """A checkpoint.pt from elsewhere (a copied results folder, shared storage) is read as
    tensors and plain data only: the code its pickle names never runs, even under this run's
    fingerprint."""
    _, reference, _ = run(dna_data, seed=4)
    marker = tmp_path / "ran"
    this_run = fingerprint("test", "cpu", "None", 1)
    torch.save({"fingerprint": this_run, "step": 6, "payload": WritesAMarkerWhenUnpickled(marker)},
               tmp_path / "checkpoint.pt")
    _, model, result = run(dna_data, seed=4, tmp_path=tmp_path)
    assert not marker.exists()
    assert result.resumed_from_step is None
    assert "is unreadable as tensors and plain data" in caplog.text and "nothing in it was run" in caplog.text
    assert_identical(weights(reference), weights(model))


def test_a_checkpoint_with_best_weights_and_fisher_rows_resumes(dna_data, tmp_path):
    """Everything a checkpoint holds (keep: best's weights, the Fisher rows, the log, the
    optimizer, schedule and RNG) is tensors and plain data, so a killed run resumes."""
    np.save(tmp_path / "eval.npy", np.asarray(dna_data[2]))
    fisher = FisherDuringTraining(draw_eval_positions(tmp_path / "eval.npy", n_sequences=4, mask_fraction=0.15,
                                                      seed=5), every=4)
    options = dict(steps=8, eval_every=2, keep="best", fisher=fisher)
    _, uninterrupted, expected = run(dna_data, seed=2, **options)
    run(dna_data, seed=2, tmp_path=tmp_path, stop_after=6, **options)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["best"]["step"] in (2, 4, 6) and {row["step"] for row in state["fisher_log"]} == {0, 4}
    _, resumed, result = run(dna_data, seed=2, tmp_path=tmp_path, **options)
    assert result.resumed_from_step == 6
    assert_identical(weights(uninterrupted), weights(resumed))
    pd.testing.assert_frame_equal(result.fisher_log, expected.fisher_log)


def test_a_checkpoint_save_on_a_full_disk_is_one_line_naming_the_path(dna_data, tmp_path, monkeypatch):
    """torch.save on a full disk raises "basic_ios::clear: iostream error" and no errno;
    the job ends with one line that says what happened, where, and what to do."""
    import shutil

    def save_on_a_full_disk(state, path):
        Path(path).write_bytes(b"partial")
        try:
            raise RuntimeError("basic_ios::clear: iostream error")
        except RuntimeError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    real_usage = shutil.disk_usage
    monkeypatch.setattr(torch, "save", save_on_a_full_disk)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real_usage(path)._replace(free=0))
    checkpoint = tmp_path / "checkpoints" / "checkpoint.pt"
    with pytest.raises(InputError, match=rf"^no space left on device writing {checkpoint} \(0 B free on /"):
        run(dna_data, seed=1, tmp_path=tmp_path / "checkpoints")
    assert list((tmp_path / "checkpoints").iterdir()) == []


def test_a_checkpoint_resumes_only_under_the_same_arithmetic(dna_data, tmp_path, caplog):
    """`device` (and so autocast) may change between attempts of a job; a checkpoint written
    under fp32 is not continued under bf16."""
    run(dna_data, seed=3, tmp_path=tmp_path, stop_after=6)
    _, _, result = run(dna_data, seed=3, tmp_path=tmp_path, precision="bf16")
    assert result.resumed_from_step is None and "written for another configuration" in caplog.text


def test_gradient_accumulation_matches_full_batch(dna_data, monkeypatch):
    monkeypatch.setitem(TINY_PRESET, "dropout", 0.0)  # dropout masks depend on the micro-batch shape
    _, full, _ = run(dna_data, seed=6, steps=3, eval_every=3)
    _, accumulated, _ = run(dna_data, seed=6, steps=3, eval_every=3, micro_batch_size=4)
    for (name, a), b in zip(full.state_dict().items(), accumulated.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), name


# A member trained by torchrun's processes: the worker does a job's runs in turn (in the same
# processes, as the single-process tests above do) and rank 0 saves what they returned.
DDP_WORKER = """
import json
import sys
from pathlib import Path

import numpy as np
import torch

from seqens.distributed import Ranks, loss_module, process_group
from seqens.objectives import make_objective
from seqens.special import special_tokens
from seqens.tokenization import SequenceTokenizer
from seqens.training import DataOrder, TrainSettings, _accumulate_gradients, step_generator, train_member

job = json.loads(Path(sys.argv[0]).with_suffix(".json").read_text())
tokenizer = SequenceTokenizer(job["tokenizer"])
objective = make_objective("mlm", special_tokens(tokenizer.vocab_size), {})
train, evaluation = np.load(job["train"], mmap_mode="r"), np.load(job["eval"], mmap_mode="r")
ranks = Ranks.from_environment()


def first_step_gradients(ranks):
    \"\"\"The gradients of step 0's batch (8 sequences, micro-batches of 2) as ``ranks`` compute them.\"\"\"
    torch.manual_seed(6)
    model = objective.build_model({**job["runs"][0]["preset"], "dropout": 0.0})
    input_ids = torch.from_numpy(np.asarray(train[DataOrder(len(train), 8, 5).batch(0)], dtype=np.int64))
    batch = objective.training_batch(input_ids, step_generator(5, 0), progress=0.0)
    _accumulate_gradients(loss_module(objective, model, ranks), batch, 2, torch.device("cpu"), None, ranks)
    return {name: parameter.grad for name, parameter in model.named_parameters()}


results = []
with process_group(ranks, "cpu"):
    gradients = {"processes": first_step_gradients(ranks), "one": first_step_gradients(Ranks()) if ranks.main else None}
    for run in job["runs"]:
        checkpoint = Path(run["checkpoint"]) if run["checkpoint"] else None
        model, result = train_member(objective, run["preset"], train, evaluation, TrainSettings(**run["settings"]),
                                     checkpoint_path=checkpoint, run_fingerprint="test", progress=False,
                                     stop_after=run["stop_after"])
        state = torch.load(checkpoint, weights_only=True) if checkpoint and checkpoint.exists() else None
        results.append({"weights": model.state_dict(), "log": result.log, "resumed_from_step": result.resumed_from_step,
                        "device": result.device, "checkpoint_rng": len(state["rng"]) if state else None})
if ranks.main:
    torch.save({"runs": results, "gradients": gradients}, job["out"])
"""


# Each run (seed, checkpoint, stop_after, settings and preset overrides) on 2 processes.
TORCHRUN_RUNS = {
    "dropout_off": {"seed": 6, "preset": {"dropout": 0.0}},  # one micro-batch of 4 per process
    # 2 micro-batches of 2 per process: gradients accumulated, then summed across processes
    "uninterrupted": {"seed": 3, "overrides": {"micro_batch_size": 2}},
    "killed": {"seed": 3, "overrides": {"micro_batch_size": 2}, "checkpoint": True, "stop_after": 6},
    "resumed": {"seed": 3, "overrides": {"micro_batch_size": 2}, "checkpoint": True},
}


@pytest.fixture(scope="module")
def torchrun_results(dna_data, tmp_path_factory) -> dict[str, dict]:
    """TORCHRUN_RUNS, in turn, by 2 gloo processes that torchrun launches as train_member.py
    launches them (one launch: starting processes is most of the time), and step 0's gradients
    on the 2 processes and on one."""
    tokenizer, train, evaluation = dna_data
    work = tmp_path_factory.mktemp("torchrun")
    script = work / "worker.py"
    script.write_text(DDP_WORKER)
    runs = [
        {
            "settings": {**SETTINGS, **run.get("overrides", {}), "seed": run["seed"], "devices": 2, "device": "cpu"},
            "preset": {**TINY_PRESET, **run.get("preset", {})},
            "checkpoint": str(work / "checkpoint.pt") if run.get("checkpoint") else None,
            "stop_after": run.get("stop_after"),
        }
        for run in TORCHRUN_RUNS.values()
    ]
    job = {"tokenizer": str(tokenizer.directory), "train": str(train.filename), "eval": str(evaluation.filename),
           "runs": runs, "out": str(work / "results.pt")}
    script.with_suffix(".json").write_text(json.dumps(job))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(REPO / "workflow" / "scripts"))
        assert launch(str(script), 2, threads=1) == 0
    results = torch.load(work / "results.pt", weights_only=False)
    return {**dict(zip(TORCHRUN_RUNS, results["runs"])), "gradients": results["gradients"]}


def test_two_processes_sum_to_the_gradients_of_one(torchrun_results):
    """Each process's micro-batches weighted by their share of the whole batch's predicted
    positions, summed across processes: the one-process gradients (a mean instead of the sum
    would halve them, which AdamW's weights would hardly show)."""
    gradients = torchrun_results["gradients"]
    for name, expected in gradients["one"].items():
        assert torch.allclose(gradients["processes"][name], expected, rtol=1e-5, atol=1e-9), name


def test_two_processes_train_the_weights_of_one(dna_data, torchrun_results):
    """Same global batch and data order on 2 gloo processes: the single-process weights, up to
    the order of floating-point sums (dropout off: its masks are drawn per process)."""
    distributed = torchrun_results["dropout_off"]
    _, single, single_result = run(dna_data, seed=6, preset={"dropout": 0.0})
    # atol 1e-5: attention key biases have a zero gradient in exact arithmetic (softmax ignores
    # a shift shared by all keys), so they hold only rounding noise (~1e-7) that AdamW scales.
    for name, value in single.state_dict().items():
        assert torch.allclose(distributed["weights"][name], value, rtol=1e-4, atol=1e-5), name
    assert distributed["device"] == "2 x cpu"
    assert list(distributed["log"]["step"]) == list(single_result.log["step"])
    for column in ("train_loss", "eval_loss"):
        assert np.allclose(distributed["log"][column], single_result.log[column], rtol=1e-5, equal_nan=True), column


def test_two_processes_resume_after_a_kill(torchrun_results):
    """Killed after 6 steps (checkpoints every 4) and resumed on 2 processes: bit-identical to
    an uninterrupted 2-process run, dropout included (each process's RNG is checkpointed)."""
    killed, resumed = torchrun_results["killed"], torchrun_results["resumed"]
    assert killed["checkpoint_rng"] == 2 and resumed["resumed_from_step"] == 6
    assert_identical(torchrun_results["uninterrupted"]["weights"], resumed["weights"])
    assert list(resumed["log"]["step"]) == [2, 4, 6, 8, 10, 12]


def test_more_devices_than_gpus_is_refused_at_job_start():
    if torch.cuda.device_count() >= 2:
        pytest.skip("two GPUs are present")
    with pytest.raises(InputError, match=r"^training.devices is 2 but the job sees \d CUDA GPU\(s\)"):
        check_devices(2, "auto")
    check_devices(2, "cpu")  # processes on the CPU, asked for


def test_cuda_demanded_without_gpu_is_an_error(dna_data):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(InputError, match="no CUDA GPU"):
        run(dna_data, seed=1, device="cuda")


def test_saved_member_loads_with_auto_classes_and_gives_same_logits(dna_data, tmp_path):
    tokenizer, _, evaluation = dna_data
    objective, model, result = run(dna_data, seed=1)
    out = tmp_path / "member"
    write_member(objective, model, result, tokenizer.directory, out, {"config": {"seed": 1}})
    loaded = AutoModelForMaskedLM.from_pretrained(out).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(out)
    ids = torch.tensor(hf_tokenizer(["ACGTACGTAAGG"])["input_ids"])
    with torch.no_grad():
        assert torch.allclose(model.eval()(input_ids=ids).logits, loaded(input_ids=ids).logits, atol=1e-6)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["parameters"] == sum(p.numel() for p in loaded.parameters())
    assert (out / "training_log.csv").read_text().startswith("step,tokens_seen,train_loss,eval_loss")
    card = (out / "README.md").read_text()  # a model card: what, data, recipe, reached, loading
    assert card.startswith("---\nlibrary_name: transformers") and "AutoModelForMaskedLM.from_pretrained" in card
    assert f"{result.parameters:,} parameters" in card and "bits per predicted token" in card
    # keep: last (the default) kept the last step's weights, and says so; each loss names its unit
    assert manifest["training"]["selected_step"] == SETTINGS["steps"] and "keep: best" not in card
    assert manifest["training"]["precision"] == "fp32" and "computed in\n  float32 on cpu" in card
    final = result.log.set_index("step")["eval_loss"][SETTINGS["steps"]] / math.log(2)
    assert f"**Reached**: {final:.3f} bits per predicted token, " in card
    assert "losses at every logged step are in `training_log.csv`, in nats (divide by ln 2" in card
    assert "(nats):" not in card


@pytest.mark.parametrize(
    "precision, computed_in, tf32",
    [("fp32", "fp32", False), ("tf32", "tf32", True), ("bf16", "bf16", False), ("auto", "bf16", False)],
)
def test_fp32_on_cuda_leaves_tf32_off_and_tf32_is_only_had_by_its_name(monkeypatch, precision, computed_in, tf32):
    """On CUDA (the flags are process-wide and settable without a GPU): fp32 is IEEE fp32, as
    in the paper's Trainer; TF32 matmuls only with precision: tf32, whatever an earlier run left."""
    monkeypatch.setattr(seqens.training, "process_device", lambda device, ranks: torch.device("cuda"))
    monkeypatch.setattr(seqens.training, "resolve_device", lambda setting: torch.device("cuda"))
    settings = TrainSettings(**SETTINGS, seed=1, precision=precision)
    try:
        for left_before in (True, False):
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = left_before
            device, amp_dtype, arithmetic = seqens.training._set_up_backend(settings, Ranks(0, 1))
            assert (device.type, arithmetic) == ("cuda", computed_in)
            assert (amp_dtype is torch.bfloat16) == (computed_in == "bf16")
            assert torch.backends.cuda.matmul.allow_tf32 is tf32 and torch.backends.cudnn.allow_tf32 is tf32
            assert torch.get_float32_matmul_precision() == ("high" if tf32 else "highest")
    finally:  # PyTorch's defaults
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True
    # On CPU there is no TF32: the run computes in fp32 and its manifest says so.
    assert seqens.training.arithmetic("tf32", torch.device("cpu")) == "fp32"


def test_epochs_end_with_a_short_batch_as_the_trainers_data_loader_does(dna_data):
    """epochs: each epoch is ceil(n / batch) batches, the last one short (a DataLoader with
    drop_last=False), every sequence once per epoch; the paper's 5 x 2,000,000 / 96 is 104,170 steps."""
    loader = torch.utils.data.DataLoader(range(10), batch_size=4, drop_last=False)
    order = DataOrder(10, 4, data_seed=1, short_last_batch=True)
    assert order.steps_per_epoch == len(loader) == 3
    for epoch in range(2):
        batches = [order.batch(epoch * 3 + i) for i in range(3)]
        assert [len(b) for b in batches] == [len(b) for b in loader] == [4, 4, 2]
        assert sorted(np.concatenate(batches)) == list(range(10))
    assert [order.sequences_before(step) for step in (0, 2, 3, 4, 6)] == [0, 8, 10, 14, 20]
    assert not np.array_equal(np.concatenate([order.batch(i) for i in range(3)]),
                              np.concatenate([order.batch(i) for i in range(3, 6)]))  # a fresh permutation
    assert 5 * len(torch.utils.data.DataLoader(range(2_000_000), batch_size=96)) == 104_170
    # Trained so: 64 sequences in batches of 12 are 6 steps an epoch, the last of 4 sequences.
    _, _, result = run(dna_data, seed=1, steps=12, epochs=2, batch_size=12, eval_every=6)
    tokens_seen = result.log.set_index("step")["tokens_seen"]
    assert (tokens_seen[6], tokens_seen[12]) == (64 * 32, 2 * 64 * 32)
    with pytest.raises(InputError, match="training.steps is 13 but 2 epochs of 64 sequences in batches of 12 are 12"):
        run(dna_data, seed=1, steps=13, epochs=2, batch_size=12)


def trainer_loads(eval_losses: dict[int, float], steps: int, eval_every: int, save_every: int, out: Path) -> int | None:
    """The step whose checkpoint transformers' Trainer loads at the end with the paper's
    arguments (src/utils/config.py: load_best_model_at_end, metric_for_best_model='eval_loss',
    save_strategy='steps'), its evaluations scripted to return ``eval_losses``."""
    from transformers import Trainer, TrainingArguments

    class Scripted(Trainer):
        def evaluate(self, *args, **kwargs):
            return {"eval_loss": eval_losses[self.state.global_step]}

    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return {"loss": (self.weight - x).pow(2).mean()}

    data = [{"x": torch.ones(1)} for _ in range(steps)]
    arguments = TrainingArguments(
        output_dir=str(out), max_steps=steps, per_device_train_batch_size=1, eval_strategy="steps",
        eval_steps=eval_every, save_strategy="steps", save_steps=save_every, load_best_model_at_end=True,
        metric_for_best_model="eval_loss", greater_is_better=False, report_to=[], use_cpu=True,
        save_only_model=True, logging_strategy="no", disable_tqdm=True,
    )
    trainer = Scripted(model=Constant(), args=arguments, train_dataset=data, eval_dataset=data)
    trainer.train()
    best = trainer.state.best_model_checkpoint
    return int(best.rsplit("-", 1)[1]) if best else None


def test_keep_best_saved_keeps_the_checkpoint_the_papers_trainer_loads(dna_data, tmp_path, monkeypatch):
    """keep: best_saved with save_every: only saved steps (every save_every and the last) can be
    kept, and the one kept is the one transformers' Trainer loads given the same held-out
    losses: lowest at step 6 (not saved), so the Trainer loads step 4, where keep: best keeps 6
    and the lowest loss among the saved steps is step 12's."""
    scripted = {2: 5.0, 4: 4.0, 6: 3.0, 8: 3.5, 10: 3.2, 12: 3.1}
    monkeypatch.setattr(seqens.training, "evaluate", lambda *args: scripted[round(args[-1] * 12)])
    overrides = dict(steps=12, eval_every=2, keep="best_saved", save_every=4)
    assert trainer_loads(scripted, steps=12, eval_every=2, save_every=4, out=tmp_path / "trainer") == 4
    objective, model, result = run(dna_data, seed=1, **overrides)
    assert result.selected_step == 4
    _, at_four, _ = run(dna_data, seed=1, stop_after=4, **overrides)
    assert_identical(weights(at_four), weights(model))
    assert run(dna_data, seed=1, **{**overrides, "keep": "best"})[2].selected_step == 6
    # Resuming after a kill past the kept step keeps the same step.
    run(dna_data, seed=1, tmp_path=tmp_path, stop_after=9, **overrides)
    _, resumed, resumed_result = run(dna_data, seed=1, tmp_path=tmp_path, **overrides)
    assert resumed_result.resumed_from_step == 9 and resumed_result.selected_step == 4
    assert_identical(weights(resumed), weights(model))
    out = tmp_path / "member"
    write_member(objective, model, result, dna_data[0].directory, out, {"config": {"training": {"keep": "best_saved"}}})
    assert "at step 4, the checkpoint the paper's Trainer would load (`keep: best_saved`" in (out / "README.md").read_text()


def test_schedule_and_data_order():
    assert warmup_cosine(0, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 0.1) == pytest.approx(0.5, abs=0.02)
    assert warmup_cosine(100, 100, 0.1) == pytest.approx(0.0)
    order = DataOrder(10, 4, data_seed=1)
    seen = np.concatenate([order.batch(0), order.batch(1), order.batch(2)[:2]])
    assert sorted(seen) == list(range(10))  # one epoch covers every sequence once
    assert np.array_equal(DataOrder(10, 4, data_seed=1).batch(7), order.batch(7))


def test_tiny_model_learns_real_text_below_unigram_entropy(wiki_tokens):
    """On real Wikipedia text a tiny MLM ends below the unigram entropy of its training tokens."""
    tokenizer, train, evaluation, unigram_bits = wiki_tokens
    objective = make_objective("mlm", special_tokens(tokenizer.vocab_size), {})
    settings = TrainSettings(steps=300, batch_size=32, learning_rate=3e-3, seed=1, data_seed=1, eval_every=300)
    preset = {**TINY_PRESET, "hidden": 64, "ffn": 256, "dropout": 0.0}
    _, result = train_member(objective, preset, train, evaluation, settings, checkpoint_path=None, progress=False)
    eval_bits = result.log["eval_loss"].dropna().iloc[-1] / math.log(2)
    assert eval_bits < unigram_bits - 0.1, (eval_bits, unigram_bits)


def test_a_member_is_never_extracted_under_another_architecture_or_objective(dna_data, tmp_path):
    tokenizer = dna_data[0]
    objective, model, result = run(dna_data, seed=1, steps=2)
    out = tmp_path / "member"
    record = {"config": {}, "member": {"architecture": "bert", "objective": "mlm"}, "objective_params": objective.params}
    write_member(objective, model, result, tokenizer.directory, out, record)

    loaded = load_member(member(), out, tokenizer.directory)
    assert type(loaded.model).__name__ == "BertForMaskedLM"
    with pytest.raises(InputError, match=r"trained as \{'architecture': 'bert', 'objective': 'mlm'\}, not as roformer/mlm"):
        load_member(member(architecture="roformer"), out, tokenizer.directory)
    with pytest.raises(InputError, match="not as bert/randommask"):
        load_member(member(objective="randommask"), out, tokenizer.directory)


def test_truncated_or_missing_weights_are_named_before_extraction(dna_data, tmp_path):
    tokenizer = dna_data[0]
    objective, model, result = run(dna_data, seed=1, steps=2)
    out = tmp_path / "member"
    write_member(objective, model, result, tokenizer.directory, out, {"member": {"architecture": "bert", "objective": "mlm"}})
    assert set(json.loads((out / "manifest.json").read_text())["weights"]) == {"model.safetensors"}
    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    # ...with the command that retrains it (tests/test_workflow.py runs it)
    fix = f"; retrain it: `rm -r {re.escape(str(out))}`, then run snakemake again as before$"
    with pytest.raises(InputError, match=r"model.safetensors is not the file its training wrote .*" + fix):
        load_member(member(), out, tokenizer.directory)
    weights.unlink()
    with pytest.raises(InputError, match=r"model.safetensors is missing" + fix):
        load_member(member(), out, tokenizer.directory)


def test_a_member_folder_reads_back_its_manifest_and_logs_and_names_a_missing_one(dna_data, tmp_path):
    tokenizer = dna_data[0]
    objective, model, result = run(dna_data, seed=1, steps=2)
    out = tmp_path / "member"
    write_member(objective, model, result, tokenizer.directory, out, {"member": {"architecture": "bert", "objective": "mlm"}})
    assert set(read_manifest(member(), out)["weights"]) == {"model.safetensors"}
    pd.testing.assert_frame_equal(read_training_log(member(), out), result.log, check_exact=False, rtol=1e-12)
    with pytest.raises(InputError, match=r"fisher_log.csv is missing \(trained before training.fisher_log was set\?\)$"):
        read_fisher_log(member(), out)  # trained without training.fisher_log
    (out / "training_log.csv").unlink()
    with pytest.raises(InputError, match=r"^member c/t/bert/mlm/seed1: .*training_log.csv is missing; retrain it: `rm -r "):
        read_training_log(member(), out)
    with pytest.raises(InputError, match=r"^member c/t/bert/mlm/seed1: .* is missing or incomplete \(no manifest.json\)$"):
        read_manifest(member(), tmp_path / "elsewhere")


def test_one_extraction_writes_what_its_steps_compute_at_their_own_positions(dna_data, tmp_path):
    """extract_member (both extract scripts): the distributions at the output positions, the
    Fisher at the Fisher positions, the embeddings only where a file is named for them."""
    tokenizer, _, evaluation = dna_data
    objective, model, result = run(dna_data, seed=1, steps=2)
    write_member(objective, model, result, tokenizer.directory, tmp_path / "member",
                 {"member": {"architecture": "bert", "objective": "mlm"}})
    loaded = load_member(member(), tmp_path / "member", tokenizer.directory)
    np.save(tmp_path / "eval.npy", np.asarray(evaluation))
    positions = draw_eval_positions(tmp_path / "eval.npy", n_sequences=6, mask_fraction=0.15, seed=5)
    fisher_positions = draw_bernoulli_positions(tmp_path / "eval.npy", n_sequences=None, probability=0.15, seed=5, stream=2)
    for name, method, embeddings in (("ours", "per_sample", tmp_path / "ours" / "embeddings.npy"),
                                     ("paper", "minibatch", None)):
        files = ExtractionFiles(*(tmp_path / name / f for f in ("p.npy", "p.json", "f.csv", "rows.npy")), embeddings)
        extract_member(loaded, positions, fisher_positions, batch_size=4, fisher_sequences=10, fisher_method=method,
                       fisher_chunk_size=4, device="cpu", files=files)
        np.testing.assert_array_equal(
            np.load(files.distributions), output_distributions(objective, loaded.model, positions, batch_size=4, device="cpu")
        )
        assert json.loads(files.record.read_text())["member"] == "c/t/bert/mlm/seed1"
        fisher = member_fisher(objective, loaded.model, fisher_positions, n_sequences=10, method=method, chunk_size=4,
                               device="cpu")
        np.testing.assert_allclose(np.load(files.fisher_rows), fisher.per_sequence, rtol=1e-6)
        assert len(np.load(files.fisher_rows)) == (10 if method == "per_sample" else 3)  # per sequence, per chunk
        assert list(pd.read_csv(files.fisher)["group"]) == list(fisher.groups)
    assert np.load(tmp_path / "ours" / "embeddings.npy").shape == (tokenizer.vocab_size, TINY_PRESET["hidden"])
    assert sorted(p.name for p in (tmp_path / "paper").iterdir()) == ["f.csv", "p.json", "p.npy", "rows.npy"]


def test_keep_best_keeps_the_evaluation_with_the_lowest_held_out_loss(dna_data, tmp_path):
    """keep: best (the paper's load_best_model_at_end): the kept weights are those of the
    evaluation with the lowest held-out loss, whichever step it was, and resuming keeps it."""
    # A schedule whose held-out loss is lowest at step 8, not at the last step.
    overrides = dict(steps=12, eval_every=2, learning_rate=0.03, warmup_ratio=0.5, keep="best")
    objective, model, result = run(dna_data, seed=1, **overrides)
    evaluated = result.log.dropna(subset=["eval_loss"]).set_index("step")["eval_loss"]
    assert result.selected_step == evaluated.idxmin() and result.selected_step != 12
    # The same run stopped at that step (as a killed job would be) holds those weights.
    _, partial, _ = run(dna_data, seed=1, tmp_path=tmp_path, stop_after=result.selected_step, **overrides)
    assert_identical(weights(partial), weights(model))
    _, resumed, resumed_result = run(dna_data, seed=1, tmp_path=tmp_path, **overrides)
    assert resumed_result.resumed_from_step == result.selected_step
    assert resumed_result.selected_step == result.selected_step
    assert_identical(weights(resumed), weights(model))
    _, last, _ = run(dna_data, seed=1, **{**overrides, "keep": "last"})
    assert not torch.equal(last.state_dict()["cls.predictions.bias"], model.state_dict()["cls.predictions.bias"])


def test_fisher_during_training_equals_an_extraction_of_the_same_weights(dna_data, tmp_path):
    tokenizer, _, evaluation = dna_data
    np.save(tmp_path / "eval.npy", np.asarray(evaluation))
    positions = draw_eval_positions(tmp_path / "eval.npy", n_sequences=8, mask_fraction=0.15, seed=5)
    fisher = FisherDuringTraining(positions, every=4)
    objective, model, result = run(dna_data, seed=2, steps=6, fisher=fisher)
    log = result.fisher_log
    assert sorted(set(log["step"])) == [0, 4, 6]  # before the first step, every 4, and the last
    assert set(log["group"]) == set(objective.layer_groups(model))
    assert np.allclose(log.groupby("step")["fisher_fraction"].sum(), 1.0)

    out = tmp_path / "member"
    write_member(objective, model, result, tokenizer.directory, out, {"member": {"architecture": "bert", "objective": "mlm"}})
    loaded = load_member(member(seed=2), out, tokenizer.directory)
    extracted = member_fisher(loaded.objective, loaded.model, positions, n_sequences=8, method="per_sample",
                              chunk_size=8, device="cpu").to_frame()
    last = read_fisher_log(member(seed=2), out).query("step == 6").reset_index(drop=True)
    assert list(last["group"]) == list(extracted["group"])
    np.testing.assert_allclose(last["fisher_total"], extracted["fisher_total"], rtol=1e-5)
    # Computing it changes nothing in training: same weights as a run without it.
    _, plain, _ = run(dna_data, seed=2, steps=6)
    assert_identical(weights(plain), weights(model))
    assert isinstance(positions, EvalPositions)


def test_the_no_transformer_control_trains_writes_and_loads(dna_data, tmp_path):
    """layers: 0 (the paper's get_config_90M_noT): embeddings straight into the head."""
    tokenizer, _, evaluation = dna_data
    preset = {**TINY_PRESET, "layers": 0}
    objective = make_objective("mlm", special_tokens(tokenizer.vocab_size), {})
    settings = TrainSettings(**SETTINGS, seed=1)
    model, result = train_member(objective, preset, dna_data[1], evaluation, settings, checkpoint_path=None,
                                 progress=False)
    assert list(objective.layer_groups(model)) == ["embeddings", "head"]
    out = tmp_path / "member"
    write_member(objective, model, result, tokenizer.directory, out, {"member": {"architecture": "bert", "objective": "mlm"}})
    loaded = load_member(member(), out, tokenizer.directory)
    assert loaded.model.config.num_hidden_layers == 0
    np.save(tmp_path / "eval.npy", np.asarray(evaluation))
    positions = draw_eval_positions(tmp_path / "eval.npy", n_sequences=4, mask_fraction=0.15, seed=5)
    distributions = output_distributions(loaded.objective, loaded.model, positions, batch_size=4, device="cpu")
    assert distributions.shape == (positions.positions.sum(), tokenizer.vocab_size)
    assert np.allclose(distributions.sum(axis=1), 1.0, atol=1e-5)
