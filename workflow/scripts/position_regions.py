"""Place each evaluation position of a DNA condition in its genome and class it by the
corpus's annotation and soft-mask (see seqens.regions)."""

from pathlib import Path

from seqens.positions import EvalPositions
from seqens.prepare import read_split
from seqens.regions import position_regions, token_spans
from seqens.runner import log, run_script
from seqens.tables import write_table
from seqens.tokenization import SequenceTokenizer


def main(snakemake):
    inputs, params = snakemake.input, snakemake.params
    eval_positions = EvalPositions.load(Path(inputs.positions))
    tokenizer = SequenceTokenizer(inputs.tokenizer)
    strings = [tokenizer.tokenizer.id_to_token(i) for i in range(tokenizer.vocab_size)]
    spans = token_spans(
        eval_positions.input_ids, strings, read_split(Path(inputs.eval)), sampling=params.sampling,
        overlapping_k=tokenizer.overlapping_k, layout=tokenizer.layout, where=inputs.eval,
    )
    table = position_regions(
        snakemake.wildcards.corpus, eval_positions, spans, coordinates=Path(inputs.coordinates),
        characters_per_token=tokenizer.characters_per_token(), annotation=Path(inputs.annotation),
        fasta_paths=[Path(p) for p in inputs.sequences], repeats=params.repeats,
    )
    write_table(table, snakemake.output.regions)
    log.info("positions per class:\n%s", table.groupby(["region", "repeat"], dropna=False).size())


run_script(snakemake, main)
