"""Tidy tables of the study, built from the JSON records that the stages write."""

from __future__ import annotations

import pandas as pd

# Their meanings and units: docs/tables.md ("corpora.csv").
CORPUS_COLUMNS = (
    "condition", "corpus", "tokenizer", "kind", "sequences", "tokens", "characters", "characters_per_token",
    "vocab_size", "vocab_used", "unk_fraction", "unigram_entropy_bits_per_token", "unigram_entropy_bits_per_char",
    "n_fraction", "softmask_fraction", "eval_sequences", "leakage_k", "eval_shared_fraction_mean",
    "eval_shared_fraction_median", "eval_shared_fraction_max", "eval_sequences_sharing", "eval_sequences_kept",
)


def corpus_table(token_records: list[dict], corpus_records: list[dict], leakage: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per condition, the columns CORPUS_COLUMNS; ``leakage``: each condition's leakage
    audit (seqens.leakage), in the order of ``token_records``."""
    prepared = {r["stats"]["corpus"]: r["stats"] for r in corpus_records}
    rows = []
    for record, audit in zip(token_records, leakage, strict=True):
        shared = audit["shared_fraction"]
        train = record["splits"]["train"]
        corpus = prepared[record["corpus"]]
        train_split = corpus["splits"]["train"]
        is_dna = corpus["kind"] == "dna"
        rows.append(
            {
                "condition": f"{record['corpus']}-{record['tokenizer']}",
                "corpus": record["corpus"],
                "tokenizer": record["tokenizer"],
                "kind": corpus["kind"],
                "sequences": train["sequences"],
                "tokens": train["tokens"],
                "characters": train["characters"],
                "characters_per_token": train["characters"] / train["content_tokens"],
                "vocab_size": train["vocab_size"],
                "vocab_used": train["vocab_used"],
                "unk_fraction": train["unk_tokens"] / train["content_tokens"],
                "unigram_entropy_bits_per_token": train["unigram_entropy_bits_per_token"],
                "unigram_entropy_bits_per_char": train["unigram_entropy_bits_per_char"],
                "n_fraction": train_split["n_bases"] / train_split["characters"] if is_dna else float("nan"),
                "softmask_fraction": (
                    train_split["softmasked_bases"] / train_split["characters"] if is_dna else float("nan")
                ),
                "eval_sequences": record["splits"]["eval"]["sequences"],
                "leakage_k": audit["k"].iloc[0],
                "eval_shared_fraction_mean": shared.mean(),
                "eval_shared_fraction_median": shared.median(),
                "eval_shared_fraction_max": shared.max(),
                "eval_sequences_sharing": int((audit["shared_kgrams"] > 0).sum()),
                "eval_sequences_kept": int(audit["kept"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=list(CORPUS_COLUMNS))


def write_table(table: pd.DataFrame, csv_path, *, latex=None) -> None:
    """Write a tidy CSV (and optionally a LaTeX version of it) atomically."""
    from .io import atomic_path

    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    if latex is not None:
        with atomic_path(latex) as tmp:
            tmp.write_text(to_latex(table))


def to_latex(table: pd.DataFrame) -> str:
    """A booktabs table with numbers to 3 significant digits (needs no jinja2)."""
    columns = [c for c in table.columns if c not in ("corpus", "tokenizer", "level", "draws")]

    def cell(value) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else f"{value:.3g}"
        return str(value).replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")

    lines = [
        r"\begin{tabular}{" + "l" * len(columns) + "}",
        r"\toprule",
        " & ".join(cell(c) for c in columns) + r" \\",
        r"\midrule",
        *(" & ".join(cell(v) for v in row) + r" \\" for row in table[columns].itertuples(index=False)),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    return "\n".join(lines) + "\n"


def corrected_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows the figures and the report's landing page show: the corrected definition and
    the metrics that are the same under both (seqens.paper_definitions); a table without a
    ``definition`` column, whole."""
    if "definition" not in table.columns:
        return table
    return table[table["definition"].isin(["corrected", "both"])].reset_index(drop=True)
