"""A probe's labelled examples, on data no member trained on.

Examples (``build_text_examples``, ``build_dna_examples``):
- text: documents of a labelled JSON file (a label field beside the corpus's text field),
  whole, later truncated to the sequence length;
- DNA: windows of ``window`` bp, labelled by the class of their centre base, one class per
  base with the first of the probe's classes that applies: ``repeat`` (soft-masked), a
  GFF/GTF feature type (e.g. CDS, tRNA), ``UTR`` (in an exon of an mRNA, in no CDS),
  ``intron`` (in an mRNA, in no exon), ``intergenic`` (in no gene or pseudogene).

The split (``split: heldout``) keeps only documents of the corpus's eval split whose text is
in no training document (the prepared eval.txt and train.txt), and only windows that share
no base with a window of the train split (the prepared corpus's coordinates table):
what ``seqens.prepare`` wrote, read, not replayed. ``split: all`` takes every example and is
refused when one overlaps the training split (``check_disjoint``). Candidate windows tile the genome
without overlap, so no two examples share a base. Per class, ``examples_per_class`` are
drawn (seeded by the data seed); ``test_fraction`` of each class is the probe's test split.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..prepare import clean_dna, normalise_text, read_split, training_intervals
from ..readers import _open_bytes, _select, fasta_records

DERIVED_CLASSES = ("repeat", "UTR", "intron", "intergenic")
GENE_TYPES = ("gene", "pseudogene")


class ProbeError(InputError):
    """A probe the data cannot support; the message names the probe."""


@dataclass
class Examples:
    """A probe's examples: texts (documents or DNA windows), integer labels into ``classes``,
    the test split, and where each came from (document index or record:start)."""

    texts: list[str]
    labels: np.ndarray
    classes: list[str]
    is_test: np.ndarray
    origins: list[str]

    def to_json(self) -> dict:
        return {
            "classes": self.classes,
            "examples": [
                {"text": t, "label": int(y), "test": bool(s), "origin": o}
                for t, y, s, o in zip(self.texts, self.labels, self.is_test, self.origins)
            ],
        }

    @classmethod
    def from_json(cls, record: dict) -> "Examples":
        rows = record["examples"]
        return cls(
            [r["text"] for r in rows],
            np.array([r["label"] for r in rows], dtype=np.int64),
            list(record["classes"]),
            np.array([r["test"] for r in rows], dtype=bool),
            [r["origin"] for r in rows],
        )


# --- text -------------------------------------------------------------------------------------


def labelled_documents(path: str | Path, text_field: str, label_field: str, probe: str) -> list[tuple[str, str]]:
    """(text, label) of every item of a JSON file that has both; the two fields are siblings
    (``*.extract`` and ``*.topic``)."""
    text_parts, label_parts = text_field.split("."), label_field.split(".")
    if text_parts[:-1] != label_parts[:-1]:
        raise ProbeError(f"probe '{probe}': the label field '{label_field}' is no sibling of the text field '{text_field}'")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ProbeError(f"probe '{probe}': {path} is not valid JSON ({error})") from None
    pairs = []
    for item in _select(data, text_parts[:-1]):
        if isinstance(item, dict) and isinstance(item.get(text_parts[-1]), str):
            label = item.get(label_parts[-1])
            if isinstance(label, (str, int)) and not isinstance(label, bool):
                pairs.append((normalise_text(item[text_parts[-1]]), str(label)))
    if not pairs:
        raise ProbeError(f"probe '{probe}': the label field '{label_field}' matches nothing in {path}")
    return [(text, label) for text, label in pairs if text]


def text_candidates(
    labelled: list[tuple[str, str]], training: set[str], heldout: set[str] | None
) -> tuple[list[str], list[str], list[str]]:
    """Texts, labels and origins (index in the labelled file) of the candidate documents:
    with ``heldout``, only held-out documents that are no training document (a document
    duplicated across the splits is training data)."""
    texts, labels, origins = [], [], []
    for index, (text, label) in enumerate(labelled):
        if heldout is not None and (text not in heldout or text in training):
            continue
        texts.append(text)
        labels.append(label)
        origins.append(f"document:{index}")
    return texts, labels, origins


# --- DNA --------------------------------------------------------------------------------------


GFF_FIELDS = 9


def read_features(path: str | Path, probe: str, what: str = "probe") -> dict[str, dict[str, np.ndarray]]:
    """GFF3/GTF features: seqid -> type -> [n, 2] half-open 0-based intervals, merged (each
    type's intervals whatever their strand). A malformed line is a ProbeError naming the
    ``what`` (probe, or corpus for a corpus's annotation), the file, the line and what is
    wrong with it."""
    rows: dict[tuple[str, str], list[tuple[int, int]]] = {}
    with _open_bytes(Path(path)) as raw:
        # Only seqid, type and coordinates are read: an attribute in another encoding is no harm.
        for number, line in enumerate(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"), 1):
            if line.startswith("##FASTA"):
                break  # GFF3: sequences follow, no more features
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != GFF_FIELDS:
                raise ProbeError(
                    f"{what} '{probe}': {path} line {number:,} has {len(fields)} tab-separated field"
                    f"{'s' * (len(fields) != 1)}, GFF/GTF needs {GFF_FIELDS}"
                )
            start = _coordinate(fields[3], "start", path, number, f"{what} '{probe}'")
            end = _coordinate(fields[4], "end", path, number, f"{what} '{probe}'")
            if end < start:
                raise ProbeError(f"{what} '{probe}': {path} line {number:,}: end {end} is before start {start}")
            rows.setdefault((fields[0], fields[2]), []).append((start - 1, end))
    if not rows:
        raise ProbeError(f"{what} '{probe}': {path} has no features")
    features: dict[str, dict[str, np.ndarray]] = {}
    for (seqid, kind), intervals in rows.items():
        features.setdefault(seqid, {})[kind] = merge_intervals(np.array(intervals, dtype=np.int64))
    return features


def _coordinate(text: str, name: str, path, number: int, owner: str) -> int:
    """A 1-based GFF coordinate (``owner``: whose annotation, for the message)."""
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise ProbeError(f"{owner}: {path} line {number:,}: {name} {text!r} is not a positive integer")
    return int(text)


def merge_intervals(intervals: np.ndarray) -> np.ndarray:
    """Sorted, non-overlapping half-open intervals covering the same bases."""
    if not len(intervals):
        return np.zeros((0, 2), dtype=np.int64)
    intervals = intervals[np.argsort(intervals[:, 0], kind="stable")]
    ends = np.maximum.accumulate(intervals[:, 1])
    starts_new = np.concatenate([[True], intervals[1:, 0] > ends[:-1]])
    group = np.cumsum(starts_new) - 1
    merged_starts = intervals[starts_new, 0]
    merged_ends = np.zeros(len(merged_starts), dtype=np.int64)
    np.maximum.at(merged_ends, group, ends)
    return np.column_stack([merged_starts, merged_ends])


def inside(positions: np.ndarray, intervals: np.ndarray | None) -> np.ndarray:
    """Whether each position lies in one of the merged intervals."""
    if intervals is None or not len(intervals):
        return np.zeros(len(positions), dtype=bool)
    index = np.searchsorted(intervals[:, 0], positions, side="right") - 1
    return (index >= 0) & (positions < intervals[np.maximum(index, 0), 1])


def base_classes(
    positions: np.ndarray, features: dict[str, np.ndarray], softmasked: np.ndarray, classes: list[str]
) -> np.ndarray:
    """The class index of each position (first of ``classes`` that applies; -1 for none)."""
    def where(name: str) -> np.ndarray:
        return inside(positions, features.get(name))

    tests = {
        "repeat": lambda: softmasked[positions],
        "UTR": lambda: where("mRNA") & where("exon") & ~where("CDS"),
        "intron": lambda: where("mRNA") & ~where("exon"),
        "intergenic": lambda: ~np.any([where(kind) for kind in GENE_TYPES], axis=0),
    }
    labels = np.full(len(positions), -1, dtype=np.int64)
    for index, name in enumerate(classes):
        hit = tests[name]() if name in tests else where(name)
        labels[(labels < 0) & hit] = index
    return labels


def dna_candidates(
    fasta_paths: list[Path], features: dict[str, dict[str, np.ndarray]], classes: list[str], *, window: int,
    softmask: str, training: dict[str, np.ndarray], heldout: bool, probe: str,
):
    """Windows tiling each annotated record (texts, class indices, origins, overlaps
    training), kept where the centre base has a class and, with ``heldout``, where no base
    lies in a training window (``training``: per record, the train split's intervals,
    seqens.prepare.training_intervals)."""
    texts, labels, origins, overlaps = [], [], [], []
    records_seen = []
    for path in fasta_paths:
        for record in fasta_records(path):
            raw = b"".join(c.encode("latin-1") if isinstance(c, str) else c for c in record.chunks())
            records_seen.append(record.name)
            if record.name not in features:
                continue
            clean = clean_dna(raw, softmask)
            starts = np.arange(0, len(clean) - window + 1, window)
            centres = starts + window // 2
            softmasked = np.frombuffer(raw, dtype=np.uint8) >= ord("a")
            label = base_classes(centres, features[record.name], softmasked, classes)
            in_training = overlaps_any(starts, window, training.get(record.name))
            chosen = label >= 0
            if heldout:
                chosen &= ~in_training
            for start in starts[chosen]:
                texts.append(clean[start : start + window].decode("ascii"))
                origins.append(f"{record.name}:{start}")
            labels.extend(label[chosen].tolist())
            overlaps.extend(in_training[chosen].tolist())
    if not set(features) & set(records_seen):
        raise ProbeError(
            f"probe '{probe}': no sequence of the annotation ({sorted(features)[:3]}) is a record of the corpus "
            f"({records_seen[:3]})"
        )
    return texts, labels, origins, np.array(overlaps, dtype=bool)


def overlaps_any(starts: np.ndarray, length: int, intervals: np.ndarray | None) -> np.ndarray:
    """Whether each window [start, start + length) shares a base with one of ``intervals``
    (half-open, in any order)."""
    if intervals is None or not len(intervals):
        return np.zeros(len(starts), dtype=bool)
    merged = merge_intervals(intervals)
    # The first interval that ends after the window starts overlaps it if it starts before the window ends.
    first = np.searchsorted(merged[:, 1], starts, side="right")
    return (first < len(merged)) & (merged[np.minimum(first, len(merged) - 1), 0] < starts + length)


def check_classes(features: dict[str, dict[str, np.ndarray]], classes: list[str], probe: str) -> None:
    """A class that is neither derived nor a feature type of the annotation matches nothing."""
    types = set().union(*(kinds.keys() for kinds in features.values()))
    needed = {"UTR": ("mRNA", "exon", "CDS"), "intron": ("mRNA", "exon")}
    for name in classes:
        missing = [t for t in needed.get(name, () if name in DERIVED_CLASSES else (name,)) if t not in types]
        if missing:
            raise ProbeError(
                f"probe '{probe}': class '{name}' needs feature type(s) {missing}, which the annotation lacks "
                f"(it has: {', '.join(sorted(types)[:12])})"
            )


# --- selection and disjointness ----------------------------------------------------------------


def check_disjoint(overlaps: np.ndarray, origins: list[str], probe: str, corpus: str) -> None:
    """Refuse examples that overlap the corpus's training split (``overlaps`` per example)."""
    overlapping = np.flatnonzero(overlaps)
    if len(overlapping):
        raise ProbeError(
            f"probe '{probe}': {len(overlapping)} of its {len(origins)} examples overlap the training split of "
            f"corpus '{corpus}' (first: {origins[overlapping[0]]}); use split: heldout"
        )


def select_examples(
    texts: list[str], labels: list, origins: list[str], *, classes: list[str] | None, per_class: int,
    test_fraction: float, seed: int, probe: str,
) -> Examples:
    """``per_class`` examples of each class, drawn with the seed; ``test_fraction`` of each
    class (at least one, and at least one left to train on) is the test split."""
    labels = np.asarray(labels, dtype=object)
    found = sorted(set(labels.tolist()), key=str)
    if classes is None:
        classes = found
    rng = np.random.default_rng(seed)
    chosen, is_test = [], []
    n_test = min(per_class - 1, max(1, round(test_fraction * per_class)))
    for name in classes:
        members = np.flatnonzero(labels == name)
        if len(members) < per_class:
            raise ProbeError(
                f"probe '{probe}': class '{name}' has {len(members)} usable examples, fewer than examples_per_class "
                f"({per_class})"
            )
        drawn = np.sort(rng.choice(members, size=per_class, replace=False))
        test = np.zeros(per_class, dtype=bool)
        test[rng.choice(per_class, size=n_test, replace=False)] = True
        chosen.extend(drawn.tolist())
        is_test.extend(test.tolist())
    index = {name: i for i, name in enumerate(classes)}
    return Examples(
        [texts[i] for i in chosen],
        np.array([index[labels[i]] for i in chosen], dtype=np.int64),
        [str(c) for c in classes],
        np.array(is_test, dtype=bool),
        [origins[i] for i in chosen],
    )


def build_text_examples(
    name: str, probe: dict, corpus: dict, *, probe_file: Path, train_file: Path, eval_file: Path, seed: int
) -> Examples:
    """A text probe's examples from its labelled file and its corpus's prepared splits."""
    labelled = labelled_documents(probe_file, probe.get("text_field") or corpus["field"], probe["field"], name)
    if probe.get("classes"):
        missing = sorted(set(probe["classes"]) - {label for _, label in labelled})
        if missing:
            raise ProbeError(f"probe '{name}': label(s) {missing} of classes occur nowhere in field '{probe['field']}'")
    training, held_out = set(read_split(train_file)), set(read_split(eval_file))
    texts, labels, origins = text_candidates(labelled, training, held_out if probe["split"] == "heldout" else None)
    examples = select_examples(
        texts, labels, origins, classes=probe.get("classes"), per_class=probe["examples_per_class"],
        test_fraction=probe["test_fraction"], seed=seed, probe=name,
    )
    check_disjoint(np.array([t in training for t in examples.texts], dtype=bool), examples.origins, name, probe["corpus"])
    return examples


def build_dna_examples(
    name: str, probe: dict, corpus: dict, *, probe_file: Path, fasta_files: list[Path], coordinates: Path, seed: int
) -> Examples:
    """A DNA probe's examples from its annotation, its corpus's sequences and the prepared
    corpus's coordinates table (which windows went to the train split)."""
    features = read_features(probe_file, name)
    classes = list(probe["classes"])
    check_classes(features, classes, name)
    texts, labels, origins, overlaps = dna_candidates(
        fasta_files, features, classes, window=probe["window"], softmask=corpus["softmask"],
        training=training_intervals(coordinates), heldout=probe["split"] == "heldout", probe=name,
    )
    examples = select_examples(
        texts, [classes[i] for i in labels], origins, classes=classes, per_class=probe["examples_per_class"],
        test_fraction=probe["test_fraction"], seed=seed, probe=name,
    )
    origin_index = {origin: i for i, origin in enumerate(origins)}
    check_disjoint(overlaps[[origin_index[o] for o in examples.origins]], examples.origins, name, probe["corpus"])
    return examples
