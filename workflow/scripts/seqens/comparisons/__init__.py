"""Ensemble comparisons, one module per measurement, each with Multi-Bootstrap intervals and
DNA-minus-text contrasts; every function returns tidy DataFrames (columns: docs/tables.md).

- ``intervals``: per-member and per-pair arrays (each resampled as what it is), the summary
  row of an interval, a comparison job's bootstrap options
- ``contrasts``: paired DNA-minus-text differences within one architecture and objective
- ``outputs``: output distributions (entropy, cross-entropy, disagreement, rank curve)
- ``embeddings``: static input-embedding stability between members
- ``fisher``: each layer group's share of the Fisher information
- ``probes``: frozen-feature probe scores, gains and agreement
- ``distinct_members``: that the members of an ensemble are distinct models

Contextual embeddings are compared in seqens.contextual, beside their metrics, through the
same contrast helper.
"""
