"""Seconds per epoch and peak memory of a model's training (the default model's unless --model), with
the Trainer's input (modules/trainer.make_dataset) keeping its decoded images in memory, in files,
or not at all.

    .venv/bin/python bench/input_cache.py --data-root ../shared/datasets/clothing-dataset-small [--epochs 3] \
        [--model efficientnet_lite1]

The data is ingested and a real Transform graph written once; each mode then trains the model's
recipe (modules/settings.Training, resolved) in a process of its own, whose peak resident memory
(getrusage) is reported. The first epoch also traces the step and, with a cache, fills it; the
median of the later ones is the steady figure. Prints one JSON row per mode as it finishes.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from modules import settings

MODES = ("memory", "file", "none")


def prepare(data_root: Path, scratch: Path, model_name: str) -> dict:
    """Ingests `data_root` and writes the Transform graph of the model's image size under `scratch`."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

    from components.image_example_gen import ingestion, manifest
    from modules import features, preprocessing, registry
    from pipeline import configs

    ingested = ingestion.run(data_root, scratch / "ingested", configs.DEFAULT_BEAM_PIPELINE_ARGS)
    schema = text_format.Parse((configs.SCHEMA_DIR / "schema.pbtxt").read_text(), schema_pb2.Schema())
    metadata = dataset_metadata.DatasetMetadata(schema)
    transform_dir = scratch / "transform_fn"
    image_size = registry.get_spec(model_name).image_size
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(scratch / "tft-tmp")):
        # No analyzers in preprocessing_fn: one example is enough to write the graph.
        one = pipeline | beam.Create([{"image_raw": [b""], "label": [0], "label_name": [b""], "filename": [b""],
                                       **{key: [] for key in features.SLICE_KEYS}}])
        transform_fn = (one, metadata) | tft_beam.AnalyzeDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, {"image_size": image_size}))
        _ = transform_fn | tft_beam.WriteTransformFn(str(transform_dir))
    metadata_io.write_metadata(metadata, str(transform_dir / tft.TFTransformOutput.RAW_METADATA_DIR))
    return {"transform_dir": str(transform_dir), "class_names": manifest.read(ingested)["class_names"],
            "train": str(manifest.split_uri(ingested, "train") / "*"),
            "eval": str(manifest.split_uri(ingested, "eval") / "*")}


def train_one_mode(prepared: dict, mode: str, epochs: int, scratch: Path, model_name: str) -> dict:
    """Trains the model's recipe for `epochs` with the input kept by `mode`; seconds per epoch."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_transform as tft
    from tfx.components.trainer import fn_args_utils
    from tfx_bsl.tfxio import tf_example_record

    from modules import settings, trainer

    def dataset_factory(file_pattern, options, schema):
        return tf_example_record.TFExampleRecord(file_pattern, schema=schema).TensorFlowDataset(options)

    accessor = fn_args_utils.DataAccessor(tf_dataset_factory=dataset_factory, record_batch_factory=None,
                                          data_view_decode_fn=None)
    config = settings.Training(model_name=model_name).resolved()
    tft_output = tft.TFTransformOutput(prepared["transform_dir"])
    cache = {"memory": "", "file": str(scratch / "decoded"), "none": None}[mode]
    tf.keras.utils.set_random_seed(config.seed)
    train_ds = trainer.make_dataset([prepared["train"]], accessor, tft_output, prepared["class_names"],
                                    config.batch_size, shuffle_seed=config.seed, cache=cache)
    counts = trainer.count_labels([prepared["train"]], accessor, tft_output.raw_metadata.schema,
                                  len(prepared["class_names"]))
    model, _ = trainer.compiled_model(config, len(counts))
    seconds = []

    class Timer(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    steps = trainer.steps_per_epoch(int(np.sum(counts)), config.batch_size)
    model.fit(trainer.for_fit(train_ds, steps, epochs), steps_per_epoch=steps, epochs=epochs, callbacks=[Timer()],
              verbose=0)
    cached_bytes = sum(path.stat().st_size for path in scratch.glob("decoded*"))
    return {"mode": mode, "epochs": [round(s, 1) for s in seconds],
            "median_after_first": round(statistics.median(seconds[1:]), 1) if len(seconds) > 1 else None,
            "cache_on_disk_MB": round(cached_bytes / 2**20)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--model", default=settings.Training().model_name,
                        help="the model trained (default: %(default)s, the default model)")
    parser.add_argument("--one-mode", help=argparse.SUPPRESS)  # the child process: PREPARED_JSON MODE SCRATCH
    args = parser.parse_args()
    if args.one_mode:
        prepared, mode, scratch = json.loads(args.one_mode)
        print(json.dumps(train_one_mode(prepared, mode, args.epochs, Path(scratch), args.model)))
        return 0

    scratch = Path(tempfile.mkdtemp(prefix="input-cache-"))
    try:
        prepared = prepare(args.data_root.resolve(), scratch, args.model)
        for mode in args.modes:
            mode_scratch = scratch / mode
            mode_scratch.mkdir()
            child = subprocess.Popen(
                [sys.executable, __file__, "--data-root", str(args.data_root), "--epochs", str(args.epochs),
                 "--model", args.model,
                 "--one-mode", json.dumps([prepared, mode, str(mode_scratch)])],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            stdout = child.stdout.read()
            _, status, usage = os.wait4(child.pid, 0)
            if status != 0:
                raise RuntimeError(f"mode {mode} failed with status {status}")
            row = {**json.loads(stdout.strip().splitlines()[-1]), "peak_MB": round(usage.ru_maxrss / 1024)}
            print(json.dumps(row), flush=True)
            shutil.rmtree(mode_scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
