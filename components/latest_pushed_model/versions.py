"""The numbered version directories of a push destination, on any tf.io.gfile filesystem."""
from __future__ import annotations

import hashlib
import os
import posixpath
from pathlib import Path
from typing import Optional

from tfx.dsl.io import fileio

SAVED_MODEL = "saved_model.pb"
FINGERPRINT = "fingerprint.pb"  # written by tf.saved_model.save since TF 2.12


def complete(serving_dir: str) -> list[str]:
    """The model versions of a serving directory as TF Serving sees them, oldest first: numeric
    subfolder names (anything else is ignored) holding a saved_model.pb."""
    if not fileio.isdir(serving_dir):
        return []
    numbered = sorted((int(name.rstrip("/")), name.rstrip("/")) for name in fileio.listdir(serving_dir)
                      if name.rstrip("/").isdigit())
    return [posixpath.join(serving_dir, name) for _, name in numbered
            if fileio.exists(posixpath.join(serving_dir, name, SAVED_MODEL))]


def local_dirs(serving_dir: str | os.PathLike) -> list[Path]:
    """`complete` for a local serving directory, as Paths."""
    return [Path(v) for v in complete(str(serving_dir))]


def newest(serving_dir: str) -> Optional[str]:
    """The newest complete version directory, or None."""
    versions = complete(serving_dir)
    return versions[-1] if versions else None


def state(serving_dir: str) -> str:
    """What the newest version is: its name and a hash of its SavedModel fingerprint ("" if none)."""
    version = newest(serving_dir)
    if version is None:
        return ""
    fingerprint = posixpath.join(version, FINGERPRINT)
    content = fileio.open(fingerprint, "rb").read() if fileio.exists(fingerprint) else b""
    return f"{posixpath.basename(version)}:{hashlib.sha256(content).hexdigest()[:16]}"


def other_classes(model_dir: str, version_dir: str, version_name: Optional[str] = None) -> Optional[str]:
    """How the class list of the model at `version_dir` (called `version_name`, default that path)
    differs from the one at `model_dir` (their assets.extra/class_names.txt, modules/exporter.py), or
    None when they agree or either lacks one."""
    from modules import exporter
    lists = [exporter.read_class_names(d) if fileio.exists(posixpath.join(d, exporter.CLASS_NAMES_FILE)) else None
             for d in (str(model_dir), str(version_dir))]
    if None in lists or lists[0] == lists[1]:
        return None
    ours, theirs = lists
    return f"{version_name or version_dir} classifies other classes ({_classes(theirs)}; this model: {_classes(ours)})"


def _classes(names: list) -> str:
    return f"{len(names)} classes: " + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
