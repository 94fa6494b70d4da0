"""Corpus preparation: DNA cleaning and windows, text documents, disjoint splits, errors."""

import errno
import gzip
import json
import logging
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from seqens.errors import InputError
from seqens.prepare import prepare_dna, prepare_text, read_split, training_intervals

from conftest import FullDisk


def write_fasta(path, records, width=60):
    with open(path, "w") as handle:
        for name, seq in records:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i : i + width] + "\n")
    return path


def dna_kwargs(**overrides):
    kwargs = dict(window=100, softmask="upper", max_n_fraction=0.1, eval_block=2, eval_fraction=0.3, seed=7)
    kwargs.update(overrides)
    return kwargs


def random_dna(rng, n):
    return "".join(rng.choice(list("ACGT"), size=n))


def test_dna_windows_cleaning_and_stats(tmp_path):
    rng = np.random.default_rng(0)
    seq = random_dna(rng, 1000)
    # window 0: soft-masked; window 1: IUPAC codes; window 2: too many N; the rest plain; 50 bp tail dropped
    seq = seq[:0] + seq[0:100].lower() + seq[100:110].replace("A", "R") + "RYKMSWbdhv" + seq[120:200] + "N" * 50 + seq[250:1000]
    fasta = write_fasta(tmp_path / "g.fa", [("chr1", seq + "ACGTA" * 10)])
    stats = prepare_dna("g", [fasta], tmp_path / "out", **dna_kwargs(max_n_fraction=0.2))
    lines = list(read_split(tmp_path / "out" / "train.txt")) + list(read_split(tmp_path / "out" / "eval.txt"))
    assert all(len(line) == 100 and set(line) <= set("ACGTN") for line in lines)
    assert stats.dropped_items == 1  # the window with 50 % N
    assert len(lines) == 10 - 1  # 1,050 bp -> 10 whole windows (tail dropped), one filtered
    assert seq[0:100].upper() in lines  # soft-masked kept as upper case
    total = stats.splits["train"].softmasked_bases + stats.splits["eval"].softmasked_bases
    assert total == 100 + 4  # lowercase window + the lowercase IUPAC codes b d h v
    ambiguous = stats.splits["train"].ambiguous_bases + stats.splits["eval"].ambiguous_bases
    assert ambiguous == seq[100:200].upper().count("R") + 9  # every non-ACGTN code of window 1
    iupac_window = [line for line in lines if line.startswith(seq[100:110].upper().replace("R", "N")[:5])]
    assert iupac_window and iupac_window[0][10:20] == "N" * 10
    assert not any(line == seq[200:300] for line in lines)


def test_softmask_drop_turns_repeats_into_n(tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", [("c", ("acgt" * 25 + "ACGT" * 25) * 10)])
    prepare_dna("g", [fasta], tmp_path / "out", **dna_kwargs(softmask="drop", eval_block=1, max_n_fraction=1.0))
    lines = list(read_split(tmp_path / "out" / "train.txt")) + list(read_split(tmp_path / "out" / "eval.txt"))
    assert "N" * 100 in lines and "ACGT" * 25 in lines


def test_dna_splits_are_disjoint_contiguous_blocks_and_deterministic(tmp_path):
    rng = np.random.default_rng(1)
    seq = random_dna(rng, 100 * 400)
    fasta = write_fasta(tmp_path / "g.fa", [("a", seq), ("b", random_dna(rng, 5000))])
    prepare_dna("g", [fasta], tmp_path / "one", **dna_kwargs(eval_block=4))
    prepare_dna("g", [fasta], tmp_path / "two", **dna_kwargs(eval_block=4))
    for split in ("train", "eval"):
        assert (tmp_path / "one" / f"{split}.txt").read_bytes() == (tmp_path / "two" / f"{split}.txt").read_bytes()
    train = list(read_split(tmp_path / "one" / "train.txt"))
    evals = list(read_split(tmp_path / "one" / "eval.txt"))
    assert not set(train) & set(evals)
    # eval windows of record a come in runs of whole blocks of 4 windows
    starts = sorted(seq.find(w) for w in evals if seq.find(w) >= 0)
    blocks = {s // 400 for s in starts}
    assert len(starts) == 4 * len(blocks)
    assert 0.15 < len(evals) / (len(evals) + len(train)) < 0.45


def coordinate_rows(path):
    with gzip.open(path, "rt") as handle:
        return [line.rstrip("\n").split("\t") for line in handle]


def test_the_coordinates_table_says_where_each_window_came_from(tmp_path):
    """One row per line written, in order: the n-th row of a split is the n-th line of its
    file, and its record[start:end] is that line; dropped windows and the tail have none."""
    rng = np.random.default_rng(2)
    a, b = random_dna(rng, 100 * 60 + 30), "N" * 100 + random_dna(rng, 100 * 20).lower()
    fasta = write_fasta(tmp_path / "g.fa", [("a", a), ("b", b)])
    prepare_dna("g", [fasta], tmp_path / "out", **dna_kwargs(eval_block=4))
    header, *rows = coordinate_rows(tmp_path / "out" / "coordinates.tsv.gz")
    assert header == ["split", "record", "start", "end", "strand"]
    lines = {split: list(read_split(tmp_path / "out" / f"{split}.txt")) for split in ("train", "eval")}
    assert [row[0] for row in rows].count("eval") == len(lines["eval"]) and len(rows) == 60 + 20
    sequences, seen = {"a": a, "b": b.upper()}, {"train": 0, "eval": 0}
    for split, record, start, end, strand in rows:
        assert sequences[record][int(start) : int(end)] == lines[split][seen[split]] and strand == "+"
        seen[split] += 1
    assert ["b", "0"] not in [row[1:3] for row in rows]  # the all-N window was dropped
    training = training_intervals(tmp_path / "out" / "coordinates.tsv.gz")  # the train rows, per record
    assert sum(len(intervals) for intervals in training.values()) == len(lines["train"])
    assert all(((intervals[:, 1] - intervals[:, 0]) == 100).all() for intervals in training.values())
    again = tmp_path / "again"
    prepare_dna("g", [fasta], again, **dna_kwargs(eval_block=4))
    assert (again / "coordinates.tsv.gz").read_bytes() == (tmp_path / "out" / "coordinates.tsv.gz").read_bytes()


def test_the_coordinates_table_names_each_documents_source_and_index(tmp_path):
    """Source 0 is corpora.x.source, then the sources; a blank text is no document."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps([{"extract": f"First {i}."} for i in range(30)]))
    second.write_text(json.dumps([{"extract": "Second 0."}, {"extract": "   "}, {"extract": "Second 2."}]))
    prepare_text("t", [first, second], tmp_path / "out", fmt="json", field="*.extract", eval_fraction=0.3, seed=0)
    header, *rows = coordinate_rows(tmp_path / "out" / "coordinates.tsv.gz")
    assert header == ["split", "source", "document"]
    lines = {split: iter(read_split(tmp_path / "out" / f"{split}.txt")) for split in ("train", "eval")}
    named = {(int(source), int(document)): next(lines[split]) for split, source, document in rows}
    assert named == {**{(0, i): f"First {i}." for i in range(30)}, (1, 0): "Second 0.", (1, 1): "Second 2."}


def test_dna_errors_name_the_problem(tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", [("c", "N" * 1000)])
    with pytest.raises(InputError, match="corpus 'g': the train split is empty"):
        prepare_dna("g", [fasta], tmp_path / "out", **dna_kwargs())
    assert not (tmp_path / "out" / "train.txt").exists()
    bad = write_fasta(tmp_path / "p.fa", [("prot", "ACGT" * 50 + "*" + "ACGT" * 50)])
    with pytest.raises(InputError, match="'prot' has a character that is not a nucleotide code"):
        prepare_dna("g", [bad], tmp_path / "out", **dna_kwargs())


def test_a_dna_corpus_shorter_than_one_evaluation_block_says_so_not_max_n_fraction(tmp_path):
    rng = np.random.default_rng(0)
    fasta = write_fasta(tmp_path / "g.fa", [("c", random_dna(rng, 1_500))])
    with pytest.raises(InputError) as caught:
        prepare_dna("g", [fasta], tmp_path / "out", **dna_kwargs(window=100, eval_block=16))
    assert str(caught.value) == (
        f"corpus 'g': {fasta} has 1,500 bases, fewer than one evaluation block needs (corpora.g.eval_block x "
        "window = 16 x 100 = 1,600 bp), so its eval split is empty: give it more sequence, or lower "
        "corpora.g.eval_block or window"
    )


def test_an_empty_split_says_which_draw_left_it_empty(tmp_path):
    rng = np.random.default_rng(0)
    fasta = write_fasta(tmp_path / "g.fa", [("c", random_dna(rng, 1_000))])  # 5 blocks of 2 windows
    with pytest.raises(InputError, match=r"corpus 'g': the eval split is empty: its 10 windows lie in at most 5 "
                                         r"blocks of corpora.g.eval_block \(2\) windows, none drawn for the eval split "
                                         r"\(preparation.eval_fraction: 0.01\)"):
        prepare_dna("g", [fasta], tmp_path / "out", **dna_kwargs(eval_fraction=0.01))
    text = tmp_path / "t.txt"
    text.write_text("One.\n\nTwo.\n\nThree.\n")
    with pytest.raises(InputError, match=r"corpus 't': the eval split is empty: none of its 3 documents was drawn"):
        prepare_text("t", [text], tmp_path / "out", fmt="text", field=None, eval_fraction=0.01, seed=0)


def test_a_text_corpus_is_read_in_its_encoding(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("\n\n".join(f"Document {i}, café crème." for i in range(20)).encode("latin-1"))
    with pytest.raises(InputError, match="latin1.txt: not utf-8 text: the bytes e9 at byte offset 15 "):
        prepare_text("t", [path], tmp_path / "out", fmt="text", field=None, eval_fraction=0.3, seed=0)
    prepare_text("t", [path], tmp_path / "out", fmt="text", field=None, eval_fraction=0.3, seed=0, encoding="latin-1")
    documents = list(read_split(tmp_path / "out" / "train.txt")) + list(read_split(tmp_path / "out" / "eval.txt"))
    assert sorted(documents) == sorted(f"Document {i}, café crème." for i in range(20))


def test_existing_outputs_survive_a_failed_run(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "train.txt").write_text("old\n")
    fasta = write_fasta(tmp_path / "g.fa", [("c", "N" * 1000)])
    with pytest.raises(InputError):
        prepare_dna("g", [fasta], out, **dna_kwargs())
    assert (out / "train.txt").read_text() == "old\n"
    assert sorted(p.name for p in out.iterdir()) == ["train.txt"]


def test_text_documents_go_whole_to_one_split(tmp_path):
    docs = {f"t{i}": {"title": f"t{i}", "extract": f"Document   number {i}\nsecond line {i}."} for i in range(400)}
    path = tmp_path / "a.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump(docs, handle)
    stats = prepare_text("w", [path], tmp_path / "out", fmt="json", field="*.extract", eval_fraction=0.2, seed=3)
    train = list(read_split(tmp_path / "out" / "train.txt"))
    evals = list(read_split(tmp_path / "out" / "eval.txt"))
    assert len(train) + len(evals) == 400 and not set(train) & set(evals)
    assert "Document number 7 second line 7." in train + evals
    assert stats.splits["eval"].items == len(evals)
    assert 40 < len(evals) < 120


def test_max_characters_caps_the_corpus(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("\n\n".join(f"doc {i} " + "x" * 100 for i in range(100)))
    stats = prepare_text("t", [path], tmp_path / "out", fmt="text", field=None, eval_fraction=0.5, seed=0,
                         max_characters=1000)
    assert 1000 <= stats.splits["train"].characters + stats.splits["eval"].characters < 1200


def _errors_of(job, main) -> tuple[int, list[str], str]:
    """Exit status, ERROR lines and whole log of a script's main run as Snakemake runs it."""
    from seqens.runner import run_script

    with pytest.raises(SystemExit) as exit_status:
        run_script(job, main)
    logging.shutdown()
    text = Path(job.log[0]).read_text()
    return exit_status.value.code, [line for line in text.splitlines() if " ERROR " in line], text


@pytest.mark.parametrize("named", [True, False])
def test_a_full_disk_during_preparation_is_one_line_naming_where(tmp_path, monkeypatch, named):
    from seqens import prepare

    fasta = write_fasta(tmp_path / "g.fa", [("c", "ACGT" * 500)])
    out = tmp_path / "out"
    monkeypatch.setattr(prepare, "open", lambda path, *args: FullDisk(path, named=named), raising=False)
    job = SimpleNamespace(log=[str(tmp_path / "prepare.log")], rule="prepare_corpus",
                          output=[str(out / "train.txt"), str(out / "eval.txt")])
    status, errors, text = _errors_of(job, lambda job: prepare_dna("g", [fasta], out, **dna_kwargs()))
    # The atomic output names the file it was writing and the disk, whether or not the error does.
    assert status == 1 and len(errors) == 1 and "Traceback" not in text, text
    assert re.search(rf"no space left on device writing {re.escape(str(out))}/[^ /]+ \(", errors[0])


def test_a_full_disk_outside_an_atomic_output_names_the_jobs_outputs(tmp_path):
    def fill_the_disk(job):
        raise OSError(errno.ENOSPC, "No space left on device")  # a failed write() names no file

    job = SimpleNamespace(log=[str(tmp_path / "job.log")], rule="prepare_corpus",
                          output=[str(tmp_path / "train.txt"), str(tmp_path / "eval.txt")])
    status, errors, text = _errors_of(job, fill_the_disk)
    assert status == 1 and len(errors) == 1 and "Traceback" not in text, text
    assert f"{tmp_path / 'train.txt'}, {tmp_path / 'eval.txt'}: no space left on device while writing it" in errors[0]
