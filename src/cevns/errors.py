"""Exceptions raised for bad user input (reported by the CLI as one line, exit code 2)."""


class CevnsError(Exception):
    """Base class of every user-facing error of the toolkit."""


class ConfigError(CevnsError):
    """A malformed or invalid experiment / analysis file, or an invalid setting."""


class ParameterError(CevnsError):
    """An unknown physics parameter or a value outside its physical domain."""


class UnknownExperimentError(CevnsError):
    """An experiment name that is neither built in nor a path to an experiment file."""


class OutputError(CevnsError):
    """An output path that cannot be used: a file where a folder is needed, a folder that is not
    writable, or an output folder locked by another running ``cevns`` process."""


class CommandLineError(CevnsError):
    """A command-line value that cannot be interpreted (e.g. a memory size or conflicting options)."""


class InvalidResultError(CevnsError):
    """A computed result that is not a valid number (NaN, infinite, or a negative event count)."""
