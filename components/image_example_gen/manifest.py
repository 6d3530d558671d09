"""What an ingestion writes beside its splits, TFX's Examples layout:
    Split-train/, Split-eval/[, Split-test/]  data-*.tfrecord.gz   (features: modules/features.py)
    manifest.json           class list, counts per split and class, content hash, duplicates found
    rejected.csv            path,reason for every file found that was not ingested
and the content hash that names an `image-pipeline ingest` output: SHA-256 over every file's
relative path and bytes, the class list and FORMAT_VERSION.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

from components.image_example_gen import duplicates
from components.image_example_gen.layout import IngestionError, Scan
from modules import filesystem

# Bump when the written format changes, so that old conversions are not reused.
FORMAT_VERSION = 5
MANIFEST = "manifest.json"
REJECTED = "rejected.csv"


def split_folder(split: str) -> str:
    """The folder of a split's TFRecord shards: TFX's Examples layout, `Split-<name>`."""
    return f"Split-{split}"


def split_uri(ingested_dir: str | os.PathLike, split: str) -> Path:
    """Where a split's TFRecord shards are in a local ingestion output."""
    return Path(ingested_dir) / split_folder(split)


def content_hash(class_names: Sequence[str], paths: Sequence[str], digests: Mapping[str, str]) -> str:
    """The input's content hash from every found file's relative path (`paths`) and, for those read,
    its SHA-256 or why it could not be read (`digests`: "unreadable:<why>")."""
    digest = hashlib.sha256(f"format={FORMAT_VERSION};classes={list(class_names)}".encode())
    for relative in sorted(paths):
        digest.update(relative.encode() + b"\0")
        value = digests.get(relative)
        if value is None:  # never opened: a link, pipe or device
            continue
        digest.update(value.encode() if value.startswith("unreadable:") else bytes.fromhex(value))
    return digest.hexdigest()


def write(scanned: Scan, rejected: Sequence[tuple[str, str]], output_dir: str, root: str, digest: str,
          found: duplicates.Findings) -> dict:
    """Writes rejected.csv and manifest.json for the files of `scanned`, of which `rejected` (path,
    reason) were not ingested, checking that every file found is accounted for; returns the manifest."""
    gfile = filesystem.gfile()
    rejected = sorted(rejected)
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
            raise IngestionError(f"{filesystem.join(root, 'train', class_name)}: no usable image, all "
                                 f"{len(examples)} files rejected (first: {examples[0]})")

    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["path", "reason"])
    writer.writerows(rejected)
    with gfile.GFile(filesystem.join(output_dir, REJECTED), "w") as f:
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
    with gfile.GFile(filesystem.join(output_dir, MANIFEST), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read(ingested_dir: str | os.PathLike) -> dict:
    with filesystem.gfile().GFile(filesystem.join(str(ingested_dir), MANIFEST)) as f:
        return json.loads(f.read())


def summary(manifest: dict) -> str:
    per_split = ", ".join(f"{split} {sum(c.values())}" for split, c in manifest["counts"].items())
    text = (f"{manifest['files_found']} found = {manifest['files_ingested']} ingested ({per_split}) "
            f"+ {manifest['files_rejected']} rejected")
    exact, near = duplicates.totals(manifest.get("duplicates", {}))
    if exact or near:
        text += f"; duplicates: {duplicates.describe(exact, near)} (manifest.json)"
    return text
