"""The layout ingestion reads: <data_root>/{train,validation[,test]}/<class name>/<image>, on any
filesystem TensorFlow reads. Which files are image candidates, which are rejected by their path
alone (and why), and which input cannot make a dataset at all."""
from __future__ import annotations

import dataclasses
import logging
import os
import stat
import unicodedata
from pathlib import Path
from typing import Mapping, Sequence

from modules import filesystem
from modules.errors import InputError

# Split name in the pipeline -> folder name in the data root. `train` and `eval` are the
# names the TFX Trainer and Evaluator expect.
SPLIT_FOLDERS = {"train": "train", "eval": "validation", "test": "test"}
REQUIRED_SPLITS = ("train", "eval")
SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r"}


class IngestionError(InputError):
    """Input that cannot be ingested as a whole; the message names the path and the problem."""


@dataclasses.dataclass(frozen=True)
class Candidate:
    """A file that looks like an image of a class; its content is checked in the Beam job."""
    split: str
    class_name: str
    path: str          # absolute path
    relative_path: str  # relative to the data root; stored as `filename`


@dataclasses.dataclass
class Scan:
    class_names: list[str]
    candidates: list[Candidate]
    rejected: list[tuple[str, str]]  # (relative path, reason)
    splits: list[str]

    @property
    def files_found(self) -> int:
        return len(self.candidates) + len(self.rejected)

    def missing_classes(self) -> dict:
        """{split: [classes that train has and it lacks]} for the eval/test splits that lack any."""
        missing = {split: sorted(set(self.class_names) - {c.class_name for c in self.candidates if c.split == split})
                   for split in self.splits if split != "train"}
        return {split: names for split, names in missing.items() if names}

    def warn_of_missing_classes(self, root: str) -> None:
        for split, names in self.missing_classes().items():
            logging.warning("ingest: %s has no images of class(es) %s; its metrics will lack them",
                            filesystem.join(root, SPLIT_FOLDERS[split]), ", ".join(names))


def scan(data_root: str | os.PathLike, split_folders: Mapping[str, str] = SPLIT_FOLDERS) -> Scan:
    """Lists every file under the split folders and decides which are image candidates.

    `split_folders` maps split names to folder names under the data root. Raises IngestionError
    for input that cannot make a dataset: a missing data root or required split, no class
    folders, an empty train class folder, or an eval/test class that train does not have (its
    label index would be meaningless). A class that train has and eval/test lack is allowed (that
    split then has no metrics for it): `run` warns of it, once (Scan.warn_of_missing_classes).
    """
    root = str(data_root)
    if not filesystem.is_dir(root):
        raise IngestionError(f"{root}: data root is not a directory" if filesystem.is_local(root) else
                             f"{root}: data root could not be read (missing, unreachable or not permitted)")
    splits = [s for s, folder in split_folders.items() if filesystem.is_dir(filesystem.join(root, folder))]
    for split in REQUIRED_SPLITS:
        if split not in splits:
            raise IngestionError(f"{filesystem.join(root, split_folders[split])}: required split folder is missing")

    train_dir = filesystem.join(root, split_folders["train"])
    # A linked class folder is not followed (its files could be anywhere): it is rejected, not a class.
    folders = filesystem.subfolders(train_dir)
    local = filesystem.is_local(train_dir)
    class_names = sorted(name for name in folders
                         if not _hidden(name) and not (local and Path(train_dir, name).is_symlink()))
    if len(class_names) < 2:
        # One class trains a model that cannot be evaluated (TFMA needs two): refused before any work.
        hidden = sorted(name for name in folders if _hidden(name))
        found = f"only class folder '{class_names[0]}'" if class_names else "no class subfolders"
        raise IngestionError(f"{train_dir}: {found}; a classifier needs at least 2"
                             + (f" (skipped as hidden, their files rejected: {', '.join(hidden)})" if hidden else ""))
    for name in class_names:
        if any(unicodedata.category(c) == "Cc" for c in name):
            # A class name is a line of the model's class_names.txt and a TFMA slice value.
            raise IngestionError(f"{filesystem.join(train_dir, name)!r}: class folder name holds a control character "
                                 "(a newline, tab or the like); rename the folder")

    candidates: list[Candidate] = []
    rejected: list[tuple[str, str]] = []
    for split in splits:
        split_dir = filesystem.join(root, split_folders[split])
        split_candidates, split_rejected = scan_class_folders(split_dir, root, class_names, split)
        candidates += split_candidates
        rejected += split_rejected
    return Scan(class_names, candidates, rejected, splits)


def scan_class_folders(split_dir: str | os.PathLike, root: str | os.PathLike, class_names: Sequence[str],
                       split: str = "train") -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates and path-level rejections of one folder of class subfolders.

    Raises IngestionError for a class folder that is not in `class_names`, and, for the
    train split, for a class folder with no image candidates.
    """
    split_dir, root = str(split_dir), str(root)
    candidates: list[Candidate] = []
    rejected: list[tuple[str, str]] = []
    for path in sorted(filesystem.walk_files(split_dir)):
        relative = filesystem.relative(path, root)
        parts = tuple(filesystem.relative(path, split_dir).split("/"))
        reason = _path_rejection(path, parts, root)
        if reason:
            rejected.append((relative, reason))
            continue
        if parts[0] not in class_names:
            raise IngestionError(
                f"{filesystem.join(split_dir, parts[0])}: class '{parts[0]}' is not one of {', '.join(class_names)}")
        candidates.append(Candidate(split, parts[0], path, relative))
    empty_classes = sorted(set(class_names) - {c.class_name for c in candidates})
    if split == "train" and empty_classes:
        raise IngestionError(f"{filesystem.join(split_dir, empty_classes[0])}: class folder holds no image files")
    return candidates, rejected


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def _path_rejection(path_name: str, parts: Sequence[str], root_name: str) -> str | None:
    """Why a file is not an image candidate, judged from its path alone (None if it is one)."""
    if any(_hidden(part) for part in parts):
        return "hidden or system file"
    path, root = Path(path_name), Path(root_name)
    local = filesystem.is_local(path_name)
    # Links first: a linked class folder is one entry here (links are not followed), and its
    # reason is where it leads, not that it sits outside a class folder.
    if local and path.is_symlink():
        if not path.exists():
            return "unreadable: broken symbolic link"
        target = path.resolve()
        if root.resolve() not in target.parents:
            return "symbolic link leading outside the data root"
        if not target.is_file():
            return "symbolic link to something that is not a file"
    if len(parts) < 2:
        return "not inside a class folder"
    if not local:
        return None
    mode = path.lstat().st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        # Reading a FIFO would block the job forever, a device could be endless.
        return "not a regular file (a pipe, socket or device)"
    return None
