"""Errors caused by what the user gave (a path, a folder layout): the CLI reports them in one line; and
TensorFlow's error text made readable for such a line."""
import re


class InputError(ValueError):
    """The message names the path and what is wrong with it."""


def tensorflow_words(text: str) -> str:
    """A TensorFlow error's own words, without the runtime's wrapping: "{{function_node ...}} jpeg::Uncompress
    failed. [Op:DecodeImage]" -> "jpeg::Uncompress failed." (what follows "[Op:...]" is dropped too)."""
    return re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\].*", "", text).strip()
