"""Paths on any filesystem TensorFlow reads (a local path, gs://, ram://...): the one test of local
or remote, the operations ingestion, the pusher and the report need, and `publish`, the one way a
finished result is put where readers look. Through the standard library locally and tf.io.gfile
elsewhere (TensorFlow is loaded only when a remote path needs it)."""
from __future__ import annotations

import os
import posixpath
import shutil
from pathlib import Path
from typing import Callable, Iterable, Optional


def is_local(path: str | os.PathLike) -> bool:
    return "://" not in str(path)


def gfile():
    import tensorflow as tf
    return tf.io.gfile


def publish(staged: str | os.PathLike, target: str | os.PathLike, before: Optional[Callable[[], None]] = None,
            replace: bool = False) -> None:
    """Puts the finished file or folder `staged` at `target` in one rename, so that a reader sees all
    of it or none of it (atomic on a local or POSIX filesystem; object stores copy a file, which a
    reader still never sees half-written). `before` runs just before the rename: where the crash
    tests kill a run (components/crash_points.py). With `replace`, a file already at `target` is
    replaced; otherwise the rename fails there."""
    if before:
        before()
    if not is_local(target):
        gfile().rename(str(staged), str(target), overwrite=replace)
    elif replace:
        os.replace(staged, target)
    else:
        os.rename(staged, target)


def join(root: str | os.PathLike, *parts: str) -> str:
    """A path under root on any filesystem (pathlib would turn gs://b into gs:/b)."""
    return str(Path(root, *parts)) if is_local(root) else posixpath.join(str(root), *parts)


def relative(path: str, start: str) -> str:
    """`path` relative to `start`, with forward slashes."""
    if is_local(path):
        return Path(path).relative_to(start).as_posix()
    return posixpath.relpath(path, start)


def is_dir(path: str) -> bool:
    if is_local(path):
        return Path(path).is_dir()
    try:
        return gfile().isdir(path)
    except Exception:  # tf.errors.* of a filesystem this build lacks
        return False


def subfolders(directory: str) -> list[str]:
    """Names of the folders in `directory` (a local link to a folder is one)."""
    if is_local(directory):
        return [p.name for p in Path(directory).iterdir() if p.is_dir()]
    return [name.rstrip("/") for name in gfile().listdir(directory) if gfile().isdir(join(directory, name))]


def walk_files(directory: str) -> Iterable[str]:
    """Every file under `directory`; locally, links are not followed: a linked folder is one entry."""
    if not is_local(directory):  # object stores have no links, pipes or devices
        for dirpath, _, filenames in gfile().walk(directory):
            for name in filenames:
                yield posixpath.join(dirpath, name)
        return
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                yield str(Path(dirpath) / name)
        for name in filenames:
            yield str(Path(dirpath) / name)


def read_bytes(path: str) -> tuple[Optional[str], bytes]:
    """(None, the file's bytes), or (why it cannot be read, b"")."""
    try:
        if not is_local(path):
            with gfile().GFile(path, "rb") as f:
                return None, f.read()
        with open(path, "rb") as f:
            return None, f.read()
    except OSError as e:
        return e.strerror or str(e), b""
    except Exception as e:  # tf.errors.* from remote filesystems
        text = str(e).strip()
        return (text.splitlines()[0][:200] if text else type(e).__name__), b""


def remove_abandoned(parent: str | os.PathLike, prefix: str) -> list[Path]:
    """Removes the local folders named `<prefix><pid>[-...]` in `parent` whose process is gone (runs
    killed before they could clean up after themselves); returns them."""
    removed = []
    for path in Path(parent).glob(f"{prefix}*"):
        pid = path.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True
