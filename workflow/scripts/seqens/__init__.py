"""seqens: the science of the ensemble study, usable without Snakemake (its version:
pyproject.toml, recorded in every manifest by seqens.io.package_versions)."""
