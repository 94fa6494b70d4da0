"""That the members of an ensemble are distinct models: the check before any comparison
(rule training_curves runs it on the trained members)."""

from ..config import Ensemble
from ..errors import InputError


def check_members_differ(ensemble: Ensemble, weights: dict[int, dict[str, str]]) -> None:
    """An ensemble compares members that differ in their seed: identical weight files (their
    manifests' sha256) mean the seed never reached the model, and every agreement metric
    would measure nothing. ``weights``: seed -> {file name: sha256}."""
    first_with = {}
    for seed, files in weights.items():
        if not files:  # no checksums recorded: extraction refuses such a member anyway
            continue
        key = tuple(sorted(files.items()))
        if key in first_with:
            raise InputError(
                f"ensemble {ensemble.name}: members seed{first_with[key]} and seed{seed} have identical weights "
                "(sha256 in their manifest.json): their seed did not change the model; retrain them"
            )
        first_with[key] = seed
