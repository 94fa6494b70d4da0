"""Study configuration, in the order a config goes through it:

- ``schema``: validation against workflow/schemas/config.schema.yaml, with every default
  filled in (the schema's, then those derived from other keys) in one step;
- ``checks``: the checks a schema cannot express, which read the config and never write it;
- ``study``: the Study, a checked config expanded into conditions, ensembles and members;
- ``identity``: the Condition, Ensemble and Member value types and where their files live.
"""

from .checks import check_source_merges, kmer_tokens_at_least, vocabulary_bound
from .identity import Condition, Ensemble, Member, file_of
from .schema import BUILTIN_PRESETS, ConfigError, corpus_sources, source_keys
from .study import RUNTIME_TRAINING_KEYS, SINGLE_MODEL_SEED, Study, load_study

__all__ = [
    "BUILTIN_PRESETS",
    "RUNTIME_TRAINING_KEYS",
    "SINGLE_MODEL_SEED",
    "Condition",
    "ConfigError",
    "Ensemble",
    "Member",
    "Study",
    "check_source_merges",
    "corpus_sources",
    "file_of",
    "kmer_tokens_at_least",
    "load_study",
    "source_keys",
    "vocabulary_bound",
]
