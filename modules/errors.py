"""Errors caused by what the user gave (a path, a folder layout): the CLI reports them in one line."""


class InputError(ValueError):
    """The message names the path and what is wrong with it."""
