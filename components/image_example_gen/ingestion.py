"""Ingestion: folders of class subfolders -> gzipped TFRecord shards of tf.Example (Apache Beam).

Layout read:  <data_root>/{train,validation[,test]}/<class name>/<image>, on any tf.io.gfile
filesystem (a local path, gs://...). Layout written, TFX's Examples artifact layout: by the
pipeline's ImageExampleGen (components/image_example_gen) into its output artifact, and by
`image-pipeline ingest` (`run` below), published atomically under <output>/<content hash>/:
    Split-train/, Split-eval/[, Split-test/]  data-*.tfrecord.gz   (features: modules/features.py)
    manifest.json           class list, counts per split and class, content hash, duplicates found
    rejected.csv            path,reason for every file found that was not ingested

Every file found is either ingested or listed in rejected.csv with its reason, and the
manifest checks that found == ingested + rejected. What a file must be to be ingested, and
how it is normalized to an upright RGB JPEG, is components/image_example_gen/image_files.py. `run`'s output
directory is named by a hash of the input's content, so unchanged input is never converted
twice, and a run killed midway leaves only a temporary `.tmp-*` directory that no reader takes
for a dataset and the next run removes.
"""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import posixpath
import shutil
import stat
import time
import unicodedata
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import apache_beam as beam

from components import crash_points
from components.image_example_gen import duplicates, image_files
from modules import features
from modules.errors import InputError

# Split name in the pipeline -> folder name in the data root. `train` and `eval` are the
# names the TFX Trainer and Evaluator expect.
SPLIT_FOLDERS = {"train": "train", "eval": "validation", "test": "test"}
REQUIRED_SPLITS = ("train", "eval")
# Bump when the written format changes, so that old conversions are not reused.
FORMAT_VERSION = 5
SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r"}
STAGING_PREFIX = ".tmp-"
MANIFEST = "manifest.json"
REJECTED = "rejected.csv"


def split_uri(ingested_dir: str | os.PathLike, split: str) -> Path:
    """Where a split's TFRecord shards are: TFX's Examples layout, `Split-<name>/`."""
    return Path(ingested_dir) / f"Split-{split}"


def is_local(path: str | os.PathLike) -> bool:
    return "://" not in str(path)


def _join(root: str, *parts: str) -> str:
    """A path under root on any filesystem (pathlib would turn gs://b into gs:/b)."""
    return posixpath.join(root, *parts) if not is_local(root) else str(Path(root, *parts))


def _gfile():
    import tensorflow as tf  # only for non-local filesystems
    return tf.io.gfile


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
                            _join(root, SPLIT_FOLDERS[split]), ", ".join(names))


def scan(data_root: str | os.PathLike, split_folders: Mapping[str, str] = SPLIT_FOLDERS) -> Scan:
    """Lists every file under the split folders and decides which are image candidates.

    `split_folders` maps split names to folder names under the data root. Raises IngestionError
    for input that cannot make a dataset: a missing data root or required split, no class
    folders, an empty train class folder, or an eval/test class that train does not have (its
    label index would be meaningless). A class that train has and eval/test lack is allowed (that
    split then has no metrics for it): `run` warns of it, once (Scan.warn_of_missing_classes).
    """
    root = str(data_root)
    if not _is_dir(root):
        raise IngestionError(f"{root}: data root is not a directory" if is_local(root) else
                             f"{root}: data root could not be read (missing, unreachable or not permitted)")
    splits = [s for s, folder in split_folders.items() if _is_dir(_join(root, folder))]
    for split in REQUIRED_SPLITS:
        if split not in splits:
            raise IngestionError(f"{_join(root, split_folders[split])}: required split folder is missing")

    train_dir = _join(root, split_folders["train"])
    # A linked class folder is not followed (its files could be anywhere): it is rejected, not a class.
    folders = _subfolders(train_dir)
    class_names = sorted(name for name in folders
                         if not _hidden(name) and not (is_local(train_dir) and Path(train_dir, name).is_symlink()))
    if len(class_names) < 2:
        # One class trains a model that cannot be evaluated (TFMA needs two): refused before any work.
        hidden = sorted(name for name in folders if _hidden(name))
        found = f"only class folder '{class_names[0]}'" if class_names else "no class subfolders"
        raise IngestionError(f"{train_dir}: {found}; a classifier needs at least 2"
                             + (f" (skipped as hidden, their files rejected: {', '.join(hidden)})" if hidden else ""))
    for name in class_names:
        if any(unicodedata.category(c) == "Cc" for c in name):
            # A class name is a line of the model's class_names.txt and a TFMA slice value.
            raise IngestionError(f"{_join(train_dir, name)!r}: class folder name holds a control character "
                                 "(a newline, tab or the like); rename the folder")

    candidates: list[Candidate] = []
    rejected: list[tuple[str, str]] = []
    for split in splits:
        split_dir = _join(root, split_folders[split])
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
    for path in sorted(_walk_files(split_dir)):
        relative = _relative(path, root)
        parts = tuple(_relative(path, split_dir).split("/"))
        reason = _path_rejection(path, parts, root)
        if reason:
            rejected.append((relative, reason))
            continue
        if parts[0] not in class_names:
            raise IngestionError(
                f"{_join(split_dir, parts[0])}: class '{parts[0]}' is not one of {', '.join(class_names)}")
        candidates.append(Candidate(split, parts[0], path, relative))
    empty_classes = sorted(set(class_names) - {c.class_name for c in candidates})
    if split == "train" and empty_classes:
        raise IngestionError(f"{_join(split_dir, empty_classes[0])}: class folder holds no image files")
    return candidates, rejected


def _relative(path: str, start: str) -> str:
    if is_local(path):
        return Path(path).relative_to(start).as_posix()
    return posixpath.relpath(path, start)


def _is_dir(path: str) -> bool:
    if is_local(path):
        return Path(path).is_dir()
    try:
        return _gfile().isdir(path)
    except Exception:  # tf.errors.* of a filesystem this build lacks
        return False


def _subfolders(directory: str) -> list[str]:
    if is_local(directory):
        return [p.name for p in Path(directory).iterdir() if p.is_dir()]
    return [name.rstrip("/") for name in _gfile().listdir(directory) if _gfile().isdir(_join(directory, name))]


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def _walk_files(directory: str) -> Iterable[str]:
    if not is_local(directory):  # object stores have no links, pipes or devices
        for dirpath, _, filenames in _gfile().walk(directory):
            for name in filenames:
                yield posixpath.join(dirpath, name)
        return
    # followlinks=False: a linked directory is reported as one entry and rejected below.
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames:
            if (Path(dirpath) / name).is_symlink():
                yield str(Path(dirpath) / name)
        for name in filenames:
            yield str(Path(dirpath) / name)


def _path_rejection(path_name: str, parts: Sequence[str], root_name: str) -> str | None:
    """Why a file is not an image candidate, judged from its path alone (None if it is one)."""
    if any(_hidden(part) for part in parts):
        return "hidden or system file"
    path, root = Path(path_name), Path(root_name)
    local = is_local(path_name)
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


def read_fingerprints(scan_result: Scan, root: str | os.PathLike) -> tuple[str, Scan, duplicates.Findings]:
    """Reads every file once, before the Beam job: the input's content hash (SHA-256 over every
    file's relative path and bytes, the class list and the format version), and the scan with the
    duplicate policy (components/image_example_gen/duplicates.py) applied: exact copies it does not ingest move from the
    candidates to the rejected, with their reasons."""
    digest = hashlib.sha256(f"format={FORMAT_VERSION};classes={scan_result.class_names}".encode())
    candidates = {c.relative_path: c for c in scan_result.candidates}
    rejected = dict(scan_result.rejected)
    digests, hashes = {}, {}
    for relative in sorted(list(candidates) + list(rejected)):
        digest.update(relative.encode() + b"\0")
        if relative in rejected and is_local(root):  # links, pipes, devices: never opened
            continue
        error, data = image_files.read_bytes(_join(str(root), relative))
        if error is not None:
            digest.update(f"unreadable:{error}".encode())
            continue
        digests[relative] = duplicates.digest(data)
        digest.update(bytes.fromhex(digests[relative]))
        if relative in candidates and data.startswith(tuple(features.IMAGE_SIGNATURES)):
            perceptual = duplicates.perceptual_hash(data)
            if perceptual is not None:
                hashes[relative] = perceptual
    findings = duplicates.find([duplicates.File(c.relative_path, c.split, c.class_name) for c in candidates.values()],
                               digests, hashes)
    dropped = {path for path, _ in findings.rejected}
    applied = dataclasses.replace(scan_result, candidates=[c for c in scan_result.candidates
                                                           if c.relative_path not in dropped],
                                  rejected=scan_result.rejected + findings.rejected)
    return digest.hexdigest(), applied, findings


class ReadAndValidate(beam.DoFn):
    """Reads one candidate file; emits a tf.Example to its split, or a rejection with a reason.

    Logs its progress every PROGRESS_SECONDS (per worker, on a distributed runner)."""

    REJECTED_TAG = "rejected"
    PROGRESS_SECONDS = 30.0

    def __init__(self, total: int):
        super().__init__()
        self._total = total

    def setup(self):
        self._read, self._started = 0, time.monotonic()
        self._last = self._started

    def process(self, candidate: Candidate, label_of: dict, near_copies: frozenset):
        self._read += 1
        now = time.monotonic()
        if now - self._last >= self.PROGRESS_SECONDS:
            self._last = now
            rate = self._read / (now - self._started)
            logging.info("ingest: %d of %d images read, %.0f a second, about %.0f s left", self._read, self._total,
                         rate, max(0, self._total - self._read) / rate)
        reason, data, original = image_files.read_image_and_original(candidate.path)
        if reason:
            yield beam.pvalue.TaggedOutput(self.REJECTED_TAG, (candidate.relative_path, reason))
            return
        properties = {**image_files.properties(original),
                      features.NEAR_COPY_KEY: "yes" if candidate.relative_path in near_copies else "no"}
        example = features.make_example(data, label_of[candidate.class_name], candidate.class_name,
                                        candidate.relative_path, properties)
        yield beam.pvalue.TaggedOutput(candidate.split, example.SerializeToString())


def run(data_root: str | os.PathLike, output_dir: str | os.PathLike,
        beam_pipeline_args: Sequence[str] = ()) -> Path:
    """`image-pipeline ingest`: ingests `data_root` into `output_dir/<content hash>/` and returns it.

    Reuses a complete earlier conversion of the same content; never overwrites one.
    """
    started = time.time()
    root = str(Path(data_root).resolve()) if is_local(data_root) else str(data_root)
    scanned = scan(root)
    scanned.warn_of_missing_classes(root)
    digest, scanned, found = read_fingerprints(scanned, root)
    target = Path(output_dir).resolve() / digest[:16]
    if (target / MANIFEST).is_file():
        logging.info("ingest: input unchanged (content hash %s), reusing %s", digest[:16], target)
        return target

    _remove_abandoned_staging(target.parent)
    staging = target.parent / f"{STAGING_PREFIX}{target.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        manifest = convert(scanned, root, digest, found, str(staging), _beam_pipeline(beam_pipeline_args))
        crash_points.reached("ingestion-before-publish")
        if target.exists():  # another run published the same content meanwhile
            shutil.rmtree(staging)
        else:
            os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logging.info("ingest: %s in %.1f s: %s", target, time.time() - started, summary(manifest))
    return target


def _beam_pipeline(beam_pipeline_args: Sequence[str]):
    from apache_beam.options.pipeline_options import PipelineOptions
    return beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args)))


def convert(scanned: Scan, root: str, digest: str, found: duplicates.Findings, output_dir: str,
            pipeline: beam.Pipeline) -> dict:
    """Writes the Examples layout of `scanned` into output_dir (any filesystem) and returns the manifest.

    The Beam job reads and writes one image at a time, so memory stays flat as the data grows.
    Every file found ends either in a split or in rejected.csv; the manifest checks the sum.
    """
    logging.info("ingest: %d files found in %s (%d candidates, %d rejected by path); converting",
                 scanned.files_found, root, len(scanned.candidates), len(scanned.rejected))
    label_of = {name: index for index, name in enumerate(scanned.class_names)}
    with pipeline:
        results = (
            pipeline
            | "ListCandidates" >> beam.Create(scanned.candidates, reshuffle=False)
            | "Reshuffle" >> beam.Reshuffle()
            | "ReadAndValidate" >> beam.ParDo(ReadAndValidate(len(scanned.candidates)), label_of=label_of,
                                              near_copies=found.across_splits()).with_outputs(
                ReadAndValidate.REJECTED_TAG, *scanned.splits))
        for split in scanned.splits:
            _ = results[split] | f"Write{split.title()}" >> beam.io.WriteToTFRecord(
                _join(output_dir, f"Split-{split}", "data"), file_name_suffix=".tfrecord.gz",
                compression_type=beam.io.filesystem.CompressionTypes.GZIP)
        _ = (results[ReadAndValidate.REJECTED_TAG]
             | "FormatRejected" >> beam.Map(json.dumps)
             | "WriteRejected" >> beam.io.WriteToText(_join(output_dir, "_rejected"), shard_name_template=""))
    return _write_accounting(scanned, output_dir, root, digest, found)


def _remove_abandoned_staging(output_dir: Path) -> None:
    """Deletes temporary directories of ingestion runs that died (their process is gone)."""
    for staging in output_dir.glob(f"{STAGING_PREFIX}*"):
        pid = staging.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _process_alive(int(pid)):
            logging.info("ingest: removing %s, left by a run that did not finish", staging)
            shutil.rmtree(staging, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def _write_accounting(scanned: Scan, output_dir: str, root: str, digest: str, found: duplicates.Findings) -> dict:
    """Writes rejected.csv and manifest.json, checking that every file found is accounted for."""
    import tensorflow as tf
    gfile = tf.io.gfile
    rejected = list(scanned.rejected)
    rejected_by_content = _join(output_dir, "_rejected")
    if gfile.exists(rejected_by_content):
        with gfile.GFile(rejected_by_content) as f:
            rejected += [tuple(json.loads(line)) for line in f.read().splitlines() if line]
        gfile.remove(rejected_by_content)
    rejected.sort()
    rejected_paths = {path for path, _ in rejected}

    counts = {split: {name: 0 for name in scanned.class_names} for split in scanned.splits}
    for candidate in scanned.candidates:
        if candidate.relative_path not in rejected_paths:
            counts[candidate.split][candidate.class_name] += 1
    ingested = sum(sum(per_class.values()) for per_class in counts.values())
    if ingested + len(rejected) != scanned.files_found:
        raise RuntimeError(f"ingest: accounting mismatch in {root}: {scanned.files_found} found, "
                           f"{ingested} ingested, {len(rejected)} rejected")
    for class_name, count in counts["train"].items():
        if count == 0:
            examples = [f"{path}: {reason}" for path, reason in rejected if path.startswith(f"train/{class_name}/")]
            raise IngestionError(f"{_join(root, 'train', class_name)}: no usable image, all {len(examples)} files "
                                 f"rejected (first: {examples[0]})")

    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["path", "reason"])
    writer.writerows(rejected)
    with gfile.GFile(_join(output_dir, REJECTED), "w") as f:
        f.write(table.getvalue())
    manifest = {
        "format_version": FORMAT_VERSION,
        "data_root": root,
        "content_hash": digest,
        "class_names": scanned.class_names,
        "splits": scanned.splits,
        "files_found": scanned.files_found,
        "files_ingested": ingested,
        "files_rejected": len(rejected),
        "counts": counts,
        "duplicates": found.to_json(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with gfile.GFile(_join(output_dir, MANIFEST), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(ingested_dir: str | os.PathLike) -> dict:
    import tensorflow as tf
    with tf.io.gfile.GFile(_join(str(ingested_dir), MANIFEST)) as f:
        return json.loads(f.read())


def summary(manifest: dict) -> str:
    per_split = ", ".join(f"{split} {sum(c.values())}" for split, c in manifest["counts"].items())
    text = (f"{manifest['files_found']} found = {manifest['files_ingested']} ingested ({per_split}) "
            f"+ {manifest['files_rejected']} rejected")
    exact, near = duplicates.totals(manifest.get("duplicates", {}))
    if exact or near:
        text += f"; duplicates: {duplicates.describe(exact, near)} (manifest.json)"
    return text
