"""Seconds per epoch of the notebook's arch_2 fed by the notebook's input pipeline and by ours, in one
process, same seed, same epochs.

    .venv/bin/python bench/training_speed.py --data-root ../shared/datasets/clothing-dataset-small
    .venv/bin/python bench/training_speed.py --data-root DIR --epochs 4 --batch-size 64 --jit-compile

notebook: image_dataset_from_directory (decodes and resizes to 256 px every epoch) + a map of
          Resizing(128) and Rescaling(1/255), batch 32, no XLA: as the seed notebook wrote it.
ours:     the ingested TFRecords through the Transform graph, decoded once in parallel and cached,
          then shuffled, batched and prefetched (modules/trainer.make_dataset), as the Trainer does.
The first epoch (decoding into the cache, tracing) is reported apart; the ratio compares the later ones.
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


from pipeline import configs
from modules import settings


class EpochTimer:
    def __new__(cls):
        import tensorflow as tf

        class _Timer(tf.keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self.started = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self.started)
        return _Timer()


def notebook_dataset(data_root: Path, batch_size: int):
    import tensorflow as tf
    keras = tf.keras
    train = keras.utils.image_dataset_from_directory(str(data_root / "train"), shuffle=True,
                                                     seed=settings.Training().seed, batch_size=batch_size)
    preprocess = keras.Sequential([keras.layers.Resizing(128, 128), keras.layers.Rescaling(1.0 / 255)])
    return train.map(lambda x, y: (preprocess(x), y), num_parallel_calls=tf.data.AUTOTUNE)


def our_dataset(data_root: Path, scratch: Path, batch_size: int, class_names_out: list):
    """The Trainer's input: ingestion's TFRecords, a real Transform graph, modules.trainer.make_dataset."""
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io
    from tfx.components.trainer import fn_args_utils
    from tfx_bsl.tfxio import tf_example_record

    from modules import preprocessing, trainer
    from components.image_example_gen import ingestion

    ingested = ingestion.run(data_root, scratch / "ingested", configs.DEFAULT_BEAM_PIPELINE_ARGS)
    class_names_out.extend(ingestion.read_manifest(ingested)["class_names"])
    schema = text_format.Parse((configs.SCHEMA_DIR / "schema.pbtxt").read_text(), schema_pb2.Schema())
    metadata = dataset_metadata.DatasetMetadata(schema)
    transform_dir = scratch / "transform_fn"
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(scratch / "tft-tmp")):
        # No analyzers in preprocessing_fn: one example is enough to write the graph.
        one = pipeline | beam.Create([{"image_raw": [b""], "label": [0], "label_name": [b""], "filename": [b""]}])
        transform_fn = (one, metadata) | tft_beam.AnalyzeDataset(preprocessing.preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(transform_dir))
    metadata_io.write_metadata(metadata, str(transform_dir / tft.TFTransformOutput.RAW_METADATA_DIR))
    tft_output = tft.TFTransformOutput(str(transform_dir))

    def dataset_factory(file_pattern, options, schema_):
        return tf_example_record.TFExampleRecord(file_pattern, schema=schema_).TensorFlowDataset(options)

    accessor = fn_args_utils.DataAccessor(tf_dataset_factory=dataset_factory, record_batch_factory=None,
                                          data_view_decode_fn=None)
    train_files = [str(ingestion.split_uri(ingested, "train") / "*")]
    return trainer.make_dataset(train_files, accessor, tft_output, class_names_out, batch_size,
                                shuffle_seed=settings.Training().seed)


def train(dataset, epochs: int, jit_compile: bool, policy: str = "float32") -> list:
    import tensorflow as tf
    from modules import model as models
    tf.keras.mixed_precision.set_global_policy(policy)
    tf.keras.utils.set_random_seed(settings.Training().seed)
    model = models.build("arch_2", num_classes=10)
    model.compile(optimizer=tf.keras.optimizers.Adam(models.get_spec("arch_2").learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=jit_compile)
    timer = EpochTimer()
    model.fit(dataset, epochs=epochs, callbacks=[timer], verbose=0)
    return timer.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=settings.Training().batch_size, help="ours only")
    parser.add_argument("--jit-compile", action="store_true", help="XLA-compile our training step")
    parser.add_argument("--mixed-bfloat16", action="store_true",
                        help="train ours under Keras' mixed_bfloat16 policy (float32 variables, bfloat16 math)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        class_names: list = []
        ours = train(our_dataset(args.data_root.resolve(), Path(scratch), args.batch_size, class_names),
                     args.epochs, args.jit_compile, "mixed_bfloat16" if args.mixed_bfloat16 else "float32")
    notebook = train(notebook_dataset(args.data_root.resolve(), 32), args.epochs, jit_compile=False)

    steady = {name: statistics.median(seconds[1:]) for name, seconds in (("notebook", notebook), ("ours", ours))}
    print(json.dumps({
        "epochs": args.epochs, "batch_size": args.batch_size, "jit_compile": args.jit_compile,
        "mixed_bfloat16": args.mixed_bfloat16,
        "notebook_s_per_epoch": [round(s, 1) for s in notebook],
        "ours_s_per_epoch": [round(s, 1) for s in ours],
        "median_after_first": {k: round(v, 2) for k, v in steady.items()},
        "ratio_ours_to_notebook": round(steady["ours"] / steady["notebook"], 3),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
