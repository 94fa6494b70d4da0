"""One member's static input-embedding matrix [V, H]."""

import numpy as np

from seqens.extraction import load_member
from seqens.io import atomic_path
from seqens.runner import log, run_script


def main(snakemake):
    member = load_member(snakemake.input.member, snakemake.input.tokenizer, snakemake.wildcards)
    embeddings = member.objective.input_embeddings(member.model).detach().float().cpu().numpy()
    with atomic_path(snakemake.output[0]) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, embeddings)
    log.info("member %s: embeddings %s", member.name, embeddings.shape)


run_script(snakemake, main)
