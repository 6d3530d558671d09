"""The numbered version directories of a push destination, on any tf.io.gfile filesystem."""
from __future__ import annotations

import hashlib
import posixpath
from typing import Optional

from tfx.dsl.io import fileio

SAVED_MODEL = "saved_model.pb"
FINGERPRINT = "fingerprint.pb"  # written by tf.saved_model.save since TF 2.12


def newest(serving_dir: str) -> Optional[str]:
    """The newest complete version directory (highest number, with a saved_model.pb), or None."""
    if not fileio.isdir(serving_dir):
        return None
    numbered = sorted((int(name.rstrip("/")), name.rstrip("/")) for name in fileio.listdir(serving_dir)
                      if name.rstrip("/").isdigit())
    for _, name in reversed(numbered):
        version = posixpath.join(serving_dir, name)
        if fileio.exists(posixpath.join(version, SAVED_MODEL)):
            return version
    return None


def state(serving_dir: str) -> str:
    """What the newest version is: its name and a hash of its SavedModel fingerprint ("" if none)."""
    version = newest(serving_dir)
    if version is None:
        return ""
    fingerprint = posixpath.join(version, FINGERPRINT)
    content = fileio.open(fingerprint, "rb").read() if fileio.exists(fingerprint) else b""
    return f"{posixpath.basename(version)}:{hashlib.sha256(content).hexdigest()[:16]}"
