"""Readers of a setting's value given as text (a flag, an environment variable), the limits they
enforce, and the metadata by which a settings field offers itself as a flag. No TensorFlow and no
other module of the project: the settings (modules/settings.py) and the model registry
(modules/registry.py) both build on it."""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

# Limits of what a run may ask for (more epochs than this is weeks on a laptop; Adam above this
# rate blows the weights up at once).
MAX_EPOCHS = 1000
MAX_LEARNING_RATE = 1.0
# How the learning rate moves (modules/learning_rate.py): the notebook's ReduceLROnPlateau, or a
# one-epoch warm-up then a cosine decay to 0.
SCHEDULES = ("reduce_on_plateau", "warmup_cosine")
# How a client runs a pushed model (client/pushed_model.py): its SavedModel, as TF Serving does, or
# a TensorFlow Lite file beside it (modules/exporter.TFLITE_FILES, by these names).
RUNTIMES = ("saved_model", "tflite", "tflite_int8")


# Each reader returns the value or raises ValueError saying what is wrong with it.
def whole_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a whole number") from None
    if number < 0:
        raise ValueError(f"{text} is negative")
    return number


def count(text: str) -> int:
    number = whole_number(text)
    if number == 0:
        raise ValueError("must be at least 1")
    return number


def epochs(text: str) -> int:
    # 0 would push an untrained model.
    number = whole_number(text)
    if not 1 <= number <= MAX_EPOCHS:
        raise ValueError(f"{text} is not between 1 and {MAX_EPOCHS}")
    return number


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None


def learning_rate(text: str) -> float:
    number = _number(text)
    if not number > 0:
        raise ValueError(f"{text} is not above 0")
    if not number <= MAX_LEARNING_RATE:
        raise ValueError(f"{text} is above {MAX_LEARNING_RATE:g}")
    return number


def fraction(text: str) -> float:
    number = _number(text)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{text} is not between 0 and 1")
    return number


def smoothing(text: str) -> float:
    # At 1 every target is 1 / classes: nothing left to learn.
    number = _number(text)
    if not 0.0 <= number < 1.0:
        raise ValueError(f"{text} is not from 0 to below 1")
    return number


def one_of(choices: Sequence[str], what: str) -> Callable[[str], str]:
    def read(text: str) -> str:
        if text not in choices:
            raise ValueError(f"unknown {what} '{text}' (known: {', '.join(choices)})")
        return text
    read.choices = tuple(choices)
    return read


def field(default, help: str, read: Optional[Callable[[str], object]] = None, flag: Optional[str] = None):
    """A dataclass field that the command line offers as a flag (cli/arguments.py): its help (the
    CLI adds the default), the reader of its text (none: a switch), and the flag's name where it is
    not the field's."""
    return dataclasses.field(default=default, metadata={"help": help, "read": read, "flag": flag})
