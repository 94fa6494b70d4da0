"""Published models: where a Hub id or a local directory resolves to, the one place that
talks to the Hugging Face Hub.

A model is either a local directory (``save_pretrained``'s layout) or a Hub id at a
revision. A Hub id is fetched with ``huggingface_hub.snapshot_download`` into a cache laid
out as huggingface_hub lays it (``models--{org}--{name}/{blobs,snapshots/<commit>,refs}``),
``resources/hub/`` unless the config says otherwise; with ``HF_HUB_OFFLINE=1`` nothing is
fetched and the cache must hold the revision already (filled on a machine with network, or
copied). Every failure a user can cause is one line naming what was asked for and the way
out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .io import sha256_file

# What a member needs of a repository: weights, configs, tokenizer files, custom code (read
# only with trust_remote_code). Checkpoints in other formats (TF, Flax, ONNX) are not fetched.
MODEL_FILES = ["*.json", "*.safetensors", "*.bin", "*.txt", "*.model", "*.py"]
COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Snapshot:
    """A model's files on disk, and what they are: the Hub id and resolved commit, or the
    local directory (commit None)."""

    model: str
    revision: str | None
    commit: str | None
    directory: Path

    def files(self) -> dict[str, str]:
        """The sha256 of every file of the snapshot, by its path inside it."""
        return {
            str(path.relative_to(self.directory)): sha256_file(path)
            for path in sorted(self.directory.rglob("*"))
            if path.is_file() and ".cache" not in path.relative_to(self.directory).parts
        }

    def record(self) -> dict:
        """For a manifest: where the model came from and its files' checksums."""
        return {"model": self.model, "revision": self.revision, "commit": self.commit, "files": self.files()}


def is_local(model: str) -> bool:
    """A model given as a path (absolute, ./ or ../, or an existing directory) is local; any
    other string is a Hub id."""
    return model.startswith(("/", "./", "../", "~")) or Path(model).is_dir()


def resolve(model: str, revision: str | None, cache_dir: str | Path, what: str) -> Snapshot:
    """The files of ``model`` at ``revision`` (a local directory: as it is), fetched into
    ``cache_dir`` if need be. ``what`` names the asker in errors (e.g. "published.gfms member 3")."""
    if is_local(model):
        directory = Path(model).expanduser()
        if not (directory / "config.json").is_file() and not (directory / "tokenizer.json").is_file():
            raise InputError(
                f"{what}: {directory} is not a saved model directory (no config.json or tokenizer.json); "
                "give the folder save_pretrained wrote, or a Hub id"
            )
        return Snapshot(model, None, None, directory.resolve())
    return Snapshot(model, revision, *_download(model, revision, Path(cache_dir), what))


def _download(model: str, revision: str | None, cache_dir: Path, what: str) -> tuple[str, Path]:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    way_out = (
        f"give a local directory instead, or fill the Hub cache {cache_dir} on a machine with network "
        f"(the same snakemake target) and run with HF_HUB_OFFLINE=1"
    )
    try:
        directory = Path(
            snapshot_download(model, revision=revision, cache_dir=str(cache_dir), allow_patterns=MODEL_FILES)
        )
    except HFValidationError as error:
        raise InputError(f"{what}: '{model}' is neither an existing directory nor a valid Hub id ({error})") from None
    except GatedRepoError:
        raise InputError(f"{what}: Hub model '{model}' is gated; accept its terms on the Hub and log in (`hf auth login`)") from None
    except RevisionNotFoundError:
        raise InputError(
            f"{what}: revision '{revision}' of Hub model '{model}' does not resolve; pin an existing commit, tag or branch"
        ) from None
    except RepositoryNotFoundError:
        raise InputError(f"{what}: no Hub model '{model}' (unknown id, or private); check the id, or {way_out}") from None
    except LocalEntryNotFoundError:
        raise InputError(
            f"{what}: Hub model '{model}' at revision '{revision}' is not in the cache {cache_dir} and the Hub cannot "
            f"be reached (no network, or HF_HUB_OFFLINE=1); {way_out}"
        ) from None
    except (HfHubHTTPError, OSError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{what}: fetching Hub model '{model}' failed ({first_line}); {way_out}") from None
    commit = directory.name  # snapshots/<commit>
    if not COMMIT.match(commit):
        raise InputError(f"{what}: {directory} is not a Hub cache snapshot (expected snapshots/<40-hex commit>)")
    return commit, directory
