"""The one error type for bad user input: a config, a file or a corpus the study cannot use.
Scripts turn it into one log line naming the culprit (seqens.runner), never a traceback."""

import errno

# The OSErrors of a full disk or an exhausted quota, with what they mean: the user's to fix,
# not a bug, so one line too (seqens.runner, seqens.io.atomic_path); EDQUOT is Unix-only.
DISK_FULL = {errno.ENOSPC: "no space left on device"}
if hasattr(errno, "EDQUOT"):
    DISK_FULL[errno.EDQUOT] = "disk quota exceeded"


class InputError(Exception):
    """Bad user input (config, file, corpus). Its message is one line naming the culprit."""
