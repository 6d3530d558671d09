"""The ingestion Beam job: every file read once, by the Beam workers, and written as tf.Examples.

Pass 1 reads each file: its SHA-256 and perceptual hash (the fingerprints), and, for an image
candidate, the upright RGB JPEG and properties it is stored with (image_files.py), written to
uncompressed intermediate shards, or its rejection. The launching process then collects the
fingerprints (a few hundred bytes a file) and applies the duplicate policy to them
(duplicates.py) and computes the content hash (manifest.py). Pass 2 reads the intermediate
shards back, leaves out the exact copies the policy does not ingest, marks the images with a
copy in another split (the evaluation slices on it), and writes the gzipped splits. Both passes
handle one image at a time, so memory stays flat as the data grows, and on a distributed runner
every per-file step runs on the workers.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import Optional

import apache_beam as beam

from components.image_example_gen import duplicates, image_files, manifest
from components.image_example_gen.layout import Candidate, Scan
from modules import features, filesystem

FINGERPRINTS = "_fingerprints"
PASS_ONE = "_pass1"


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """A read file: its SHA-256 (or "unreadable:<why>") and, for an image candidate that Pillow
    reads, its perceptual hash (hex)."""
    relative_path: str
    digest: str
    perceptual: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class Converted:
    """What the job wrote and found: the input's content hash, the duplicates, the manifest."""
    digest: str
    found: duplicates.Findings
    manifest: dict


class ReadOnce(beam.DoFn):
    """Pass 1: reads one file; emits its fingerprint and, for a candidate, a serialized tf.Example
    to its split or a rejection with a reason. Logs progress every PROGRESS_SECONDS (per worker)."""

    FINGERPRINT_TAG = "fingerprint"
    REJECTED_TAG = "rejected"
    PROGRESS_SECONDS = 30.0

    def __init__(self, total: int, label_of: dict):
        super().__init__()
        self._total, self._label_of = total, label_of

    def setup(self):
        self._read, self._started = 0, time.monotonic()
        self._last = self._started

    def process(self, job: tuple[str, str, Optional[Candidate]]):
        relative, path, candidate = job
        self._log_progress()
        error, data = filesystem.read_bytes(path)
        if error is not None:
            yield beam.pvalue.TaggedOutput(self.FINGERPRINT_TAG, Fingerprint(relative, f"unreadable:{error}"))
            if candidate:
                yield beam.pvalue.TaggedOutput(self.REJECTED_TAG, (relative, f"unreadable: {error}"))
            return
        perceptual = None
        if candidate and data.startswith(tuple(features.IMAGE_SIGNATURES)):
            perceptual = duplicates.perceptual_hash(data)
        yield beam.pvalue.TaggedOutput(self.FINGERPRINT_TAG, Fingerprint(
            relative, duplicates.digest(data), perceptual.hex() if perceptual is not None else None))
        if candidate is None:
            return
        reason, stored = image_files.normalize(data)
        if reason:
            yield beam.pvalue.TaggedOutput(self.REJECTED_TAG, (relative, reason))
            return
        example = features.make_example(stored, self._label_of[candidate.class_name], candidate.class_name,
                                        relative, image_files.properties(data))
        yield beam.pvalue.TaggedOutput(candidate.split, example.SerializeToString())

    def _log_progress(self):
        self._read += 1
        now = time.monotonic()
        if now - self._last >= self.PROGRESS_SECONDS:
            self._last = now
            rate = self._read / (now - self._started)
            logging.info("ingest: %d of %d images read, %.0f a second, about %.0f s left", self._read, self._total,
                         rate, max(0, self._total - self._read) / rate)


def mark_copies(serialized: bytes, dropped: frozenset, near_copies: frozenset):
    """Pass 2: the example as stored, with whether it has a copy in another split; nothing for an
    exact copy that the duplicate policy does not ingest."""
    from tensorflow.core.example import example_pb2
    example = example_pb2.Example.FromString(serialized)
    relative = example.features.feature[features.FILENAME_KEY].bytes_list.value[0].decode()
    if relative in dropped:
        return
    example.features.feature[features.NEAR_COPY_KEY].bytes_list.value.append(
        b"yes" if relative in near_copies else b"no")
    yield example.SerializeToString()


def convert(scanned: Scan, root: str, output_dir: str, make_pipeline) -> Converted:
    """Writes the Examples layout of `scanned` into output_dir (any filesystem) with its manifest.

    `make_pipeline()` gives a new beam.Pipeline for each pass. Every file found ends either in a
    split or in rejected.csv; the manifest checks the sum.
    """
    logging.info("ingest: %d files found in %s (%d candidates, %d rejected by path); converting",
                 scanned.files_found, root, len(scanned.candidates), len(scanned.rejected))
    label_of = {name: index for index, name in enumerate(scanned.class_names)}
    # Files rejected by their path are hashed too where they can be read harmlessly: on an object
    # store (a local link, pipe or device is never opened).
    jobs = [(c.relative_path, c.path, c) for c in scanned.candidates]
    if not filesystem.is_local(root):
        jobs += [(relative, filesystem.join(root, relative), None) for relative, _ in scanned.rejected]
    pass_one = filesystem.join(output_dir, PASS_ONE)
    with make_pipeline() as pipeline:
        results = (
            pipeline
            | "ListFiles" >> beam.Create(jobs, reshuffle=False)
            | "Reshuffle" >> beam.Reshuffle()
            | "ReadOnce" >> beam.ParDo(ReadOnce(len(jobs), label_of)).with_outputs(
                ReadOnce.FINGERPRINT_TAG, ReadOnce.REJECTED_TAG, *scanned.splits))
        for split in scanned.splits:
            _ = results[split] | f"Stage{split.title()}" >> beam.io.WriteToTFRecord(
                filesystem.join(pass_one, split, "data"), file_name_suffix=".tfrecord")
        _ = (results[ReadOnce.FINGERPRINT_TAG]
             | "FormatFingerprints" >> beam.Map(lambda f: json.dumps(dataclasses.astuple(f)))
             | "WriteFingerprints" >> beam.io.WriteToText(filesystem.join(output_dir, FINGERPRINTS),
                                                          shard_name_template=""))
        _ = (results[ReadOnce.REJECTED_TAG]
             | "FormatRejected" >> beam.Map(json.dumps)
             | "WriteRejected" >> beam.io.WriteToText(filesystem.join(pass_one, "rejected"), shard_name_template=""))

    fingerprints = [Fingerprint(*json.loads(line)) for line in _read_lines(filesystem.join(output_dir, FINGERPRINTS))]
    digests = {f.relative_path: f.digest for f in fingerprints}
    hashes = {f.relative_path: bytes.fromhex(f.perceptual) for f in fingerprints if f.perceptual is not None}
    found = duplicates.find([duplicates.File(c.relative_path, c.split, c.class_name) for c in scanned.candidates],
                            digests, hashes)
    dropped = frozenset(path for path, _ in found.rejected)
    digest = manifest.content_hash(scanned.class_names, [c.relative_path for c in scanned.candidates]
                                   + [relative for relative, _ in scanned.rejected], digests)

    with make_pipeline() as pipeline:
        for split in scanned.splits:
            _ = (pipeline
                 | f"Read{split.title()}" >> beam.io.ReadFromTFRecord(filesystem.join(pass_one, split, "data*"))
                 | f"MarkCopies{split.title()}" >> beam.FlatMap(mark_copies, dropped, found.across_splits())
                 | f"Write{split.title()}" >> beam.io.WriteToTFRecord(
                     filesystem.join(output_dir, manifest.split_folder(split), "data"),
                     file_name_suffix=".tfrecord.gz", compression_type=beam.io.filesystem.CompressionTypes.GZIP))

    # A file the policy drops is listed once, as a copy, even when its content was rejected as well.
    rejected = (list(scanned.rejected) + list(found.rejected)
                + [tuple(item) for item in map(json.loads, _read_lines(filesystem.join(pass_one, "rejected")))
                   if item[0] not in dropped])
    for temporary in (pass_one, filesystem.join(output_dir, FINGERPRINTS)):
        _remove(temporary)
    return Converted(digest, found, manifest.write(scanned, rejected, output_dir, root, digest, found))


def _read_lines(path: str) -> list[str]:
    gfile = filesystem.gfile()
    if not gfile.exists(path):  # an empty PCollection may write no file
        return []
    with gfile.GFile(path) as f:
        return [line for line in f.read().splitlines() if line]


def _remove(path: str) -> None:
    gfile = filesystem.gfile()
    if gfile.isdir(path):
        gfile.rmtree(path)
    elif gfile.exists(path):
        gfile.remove(path)
