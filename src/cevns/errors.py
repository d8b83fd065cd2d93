"""Exceptions raised for bad user input (reported by the CLI as one line, exit code 2)."""


class CevnsError(Exception):
    """Base class of every user-facing error of the toolkit."""


class ConfigError(CevnsError):
    """A malformed or invalid experiment / analysis file, or an invalid setting."""


class ParameterError(CevnsError):
    """An unknown physics parameter or a value outside its physical domain."""


class UnknownExperimentError(CevnsError):
    """An experiment name that is neither built in nor a path to an experiment file."""
