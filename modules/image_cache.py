"""Where the Trainer keeps its decoded images between epochs: files in a folder of its own under the
system's temporary directory (TMPDIR), removed when training ends, so that memory does not grow
with the data (docs/benchmarks.md, "The Trainer's input": files are as fast per epoch as memory,
and decoding every epoch anew costs about 5% more).

Without room for the files (checked before, or the disk filling while they are written), training
decodes every epoch instead, after one warning line that names the folder; a partly written cache
is removed, never read.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Optional

from modules import errors, filesystem

PREFIX = "image-pipeline-decoded-"
# Room asked for beyond the float32 pixels themselves (tf.data's record framing and index).
MARGIN = 1.1


def decoded_bytes(examples: int, image_size: int) -> int:
    """The cache's size: float32 RGB images of the model's input size."""
    return int(examples * image_size * image_size * 3 * 4 * MARGIN)


@contextlib.contextmanager
def folder(needed_bytes: int) -> Iterator[Optional[str]]:
    """A new folder for the cache, removed on the way out; None when its disk has less room than
    `needed_bytes`. Folders that runs killed before their end left behind are removed first."""
    parent = Path(tempfile.gettempdir())
    filesystem.remove_abandoned(parent, PREFIX)
    free = shutil.disk_usage(parent).free
    if free < needed_bytes:
        logging.warning("trainer: %s has %.1f GB free and the decoded images need %.1f GB: decoding them every "
                        "epoch instead (set TMPDIR to a roomier folder to cache them)", parent, free / 1e9,
                        needed_bytes / 1e9)
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
    try:
        yield str(path)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def fill(datasets, cache_folder: str) -> bool:
    """Reads each dataset (cached in `cache_folder`) once, which writes its cache; False, with one
    warning and the folder emptied, when the writing fails (a full disk)."""
    import tensorflow as tf
    try:
        for dataset in datasets:
            for _ in dataset:
                pass
        return True
    except (tf.errors.OpError, OSError) as e:
        logging.warning("trainer: writing the decoded images to %s failed (%s): decoding them every epoch instead",
                        cache_folder, _reason(e))
        for path in Path(cache_folder).iterdir():
            path.unlink()
        return False


def _reason(error: Exception) -> str:
    """The file system's words in TensorFlow's error: "Original message: <file>; File too large"."""
    text = str(getattr(error, "message", "") or error).rsplit("Original message:", 1)[-1]
    text = errors.tensorflow_words(text)
    return (text.splitlines() or [type(error).__name__])[0][:300]
