"""Files that users read (a report, a compiled spec, a JSON score): checked before the work that
fills them (local paths), and written whole or not at all (local or remote)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from modules import filesystem


def why_unwritable(path: str | os.PathLike, directory: bool) -> Optional[str]:
    """Why `path` cannot become the directory (or the file) a command writes, or None if it can.

    Checked up front, so that a run does not work for minutes and then fail on its last step.
    """
    path = Path(path)
    if directory and path.exists() and not path.is_dir():
        return "exists and is not a directory"
    if not directory and path.is_dir():
        return "is a directory, not a file"
    existing = path if directory else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def write_text(path: str | os.PathLike, text: str) -> str | Path:
    """Writes `text` to `path` through a temporary file beside it and a rename, so that a reader never
    sees half a file; the temporary file does not outlive a failure. `path` may be remote (gs://)."""
    if not filesystem.is_local(path):
        partial = f"{path}.{os.getpid()}.partial"
        filesystem.gfile().makedirs(os.path.dirname(str(path)))
        try:
            with filesystem.gfile().GFile(partial, "w") as f:
                f.write(text)
            filesystem.publish(partial, path, replace=True)
        finally:
            if filesystem.gfile().exists(partial):
                filesystem.gfile().remove(partial)
        return path
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(text, encoding="utf-8")
        filesystem.publish(partial, path, replace=True)
    finally:
        partial.unlink(missing_ok=True)
    return path
