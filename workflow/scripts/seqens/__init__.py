"""seqens: the science of the ensemble study, usable without Snakemake."""

__version__ = "0.1.0"
