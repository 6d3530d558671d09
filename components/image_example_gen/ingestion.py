"""`image-pipeline ingest`: folders of class subfolders -> gzipped TFRecord shards of tf.Example,
published atomically under <output>/<content hash>/, outside any pipeline.

The pipeline's ImageExampleGen (executor.py) runs the same Beam job (beam_job.py) into its output
artifact. The layout read is layout.py's; what a file must be to be ingested, and how it is
normalized to an upright RGB JPEG, is image_files.py's; what is written beside the splits is
manifest.py's. The output directory is named by a hash of the input's content, so unchanged input
is published once, and a run killed midway leaves only a temporary `.tmp-*` directory that no
reader takes for a dataset and the next run removes.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import apache_beam as beam

from components import crash_points
from components.image_example_gen import beam_job, layout, manifest
from modules import filesystem

STAGING_PREFIX = ".tmp-ingest-"


def run(data_root: str | os.PathLike, output_dir: str | os.PathLike,
        beam_pipeline_args: Sequence[str] = ()) -> Path:
    """Ingests `data_root` into `output_dir/<content hash>/` and returns it.

    The content hash comes from the files as the Beam job reads them, so the job runs every
    time; when an earlier conversion of the same content is complete, it is kept and this one
    dropped. A published conversion is never overwritten.
    """
    started = time.time()
    root = str(Path(data_root).resolve()) if filesystem.is_local(data_root) else str(data_root)
    scanned = layout.scan(root)
    scanned.warn_of_missing_classes(root)
    output = Path(output_dir).resolve()
    for abandoned in filesystem.remove_abandoned(output, STAGING_PREFIX):
        logging.info("ingest: removed %s, left by a run that did not finish", abandoned)
    staging = output / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        converted = beam_job.convert(scanned, root, str(staging), lambda: _beam_pipeline(beam_pipeline_args))
        target = output / converted.digest[:16]
        if target.exists():  # an earlier run, or another one meanwhile, published the same content
            shutil.rmtree(staging)
            logging.info("ingest: input unchanged (content hash %s), keeping %s", converted.digest[:16], target)
            return target
        filesystem.publish(staging, target, before=functools.partial(crash_points.reached, "ingestion-before-publish"))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logging.info("ingest: %s in %.1f s: %s", target, time.time() - started, manifest.summary(converted.manifest))
    return target


def _beam_pipeline(beam_pipeline_args: Sequence[str]) -> beam.Pipeline:
    from apache_beam.options.pipeline_options import PipelineOptions
    return beam.Pipeline(options=PipelineOptions(list(beam_pipeline_args)))
