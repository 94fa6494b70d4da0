"""The one error type for bad user input: a config, a file or a corpus the study cannot use.
Scripts turn it into one log line naming the culprit (seqens.runner), never a traceback."""


class InputError(Exception):
    """Bad user input (config, file, corpus). Its message is one line naming the culprit."""
