"""TFX Trainer entry point: trains a registered model on the Transform graph's output and exports it."""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from modules import (augmentation, decision_bias, errors, exporter, features, image_cache, learning_rate,
                     model as models, registry, settings)

keras = tf.keras
AUTOTUNE = tf.data.AUTOTUNE
# Examples parsed and decoded together; independent of the training batch size.
DECODE_BATCH = 64
# Examples shuffled together, so that the buffer's memory is bounded whatever the data's size: decoded
# images read from a cache (size x size x 3 float32s each), else encoded ones, before decoding.
SHUFFLE_BUFFER = 4096


def make_dataset(file_pattern, data_accessor, tft_output: tft.TFTransformOutput, class_names: list,
                 batch_size: int, shuffle_seed: int | None = None, select=None, cache: str | None = None
                 ) -> tf.data.Dataset:
    """(image, label) batches: raw examples through the Transform graph.

    By default nothing is kept between passes: each pass shuffles the encoded examples (with
    `shuffle_seed`, when given) and decodes them anew, so memory does not grow with the data.
    `cache` keeps the decoded images instead, as tf.data's cache does: "" in memory, else in files
    with that prefix, shuffled after the cache (bench/input_cache.py measures the three per epoch:
    docs/benchmarks.md, "The Trainer's input"). `select`, when given, maps the dataset of single
    examples to the part to keep (the Tuner's folds, modules/tuner.py). Each example's label_name
    must be class_names[label]: a class list that does not match the data fails training instead
    of exporting a mislabelled model.
    """
    raw = data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(batch_size=DECODE_BATCH, shuffle=False, num_epochs=1),
        tft_output.raw_metadata.schema)
    transform_layer = tft_output.transform_features_layer()

    def to_image_and_label(raw_batch):
        label = tf.reshape(raw_batch[features.LABEL_KEY], [-1])
        names_match = tf.debugging.assert_equal(
            tf.gather(tf.constant(class_names), label), tf.reshape(raw_batch[features.LABEL_NAME_KEY], [-1]),
            message="class_names given to the Trainer do not match the examples' label/label_name pairs")
        with tf.control_dependencies([names_match]):
            transformed = transform_layer({features.IMAGE_KEY: raw_batch[features.IMAGE_KEY]})
            return transformed[features.TRANSFORMED_IMAGE_KEY], tf.identity(label)

    def shuffled(dataset):
        if shuffle_seed is None:
            return dataset
        return dataset.shuffle(SHUFFLE_BUFFER, seed=shuffle_seed, reshuffle_each_iteration=True)

    if cache is None:
        # Only the features the Transform graph and the label check read: the rest would fill the buffer.
        wanted = (features.IMAGE_KEY, features.LABEL_KEY, features.LABEL_NAME_KEY)
        examples = raw.map(lambda batch: {key: batch[key] for key in wanted}).unbatch()
        examples = shuffled(select(examples) if select else examples)
        dataset = examples.batch(DECODE_BATCH).map(to_image_and_label, num_parallel_calls=AUTOTUNE).unbatch()
    else:
        dataset = raw.map(to_image_and_label, num_parallel_calls=AUTOTUNE).unbatch()
        dataset = shuffled((select(dataset) if select else dataset).cache(cache))
    return dataset.batch(batch_size).prefetch(AUTOTUNE)


# A collective op of a multi-worker step waits this long for its peers before the run fails. A
# peer that dies is noticed sooner, by the strategy's health check of every peer (each 30 s).
COLLECTIVE_TIMEOUT_S = 300


class WorkerLost(RuntimeError):
    """A peer of a multi-worker training stopped answering: the run fails instead of waiting for it."""


def strategy(config: settings.Training) -> tf.distribute.Strategy:
    """The config's tf.distribute strategy; "none" is TensorFlow's default strategy (one process).

    Call it before anything else runs TensorFlow ops: a multi-worker strategy configures the
    runtime's collective ops, which TensorFlow allows only before its runtime starts.
    """
    if config.distribution == "mirrored":
        return tf.distribute.MirroredStrategy()
    if config.distribution == "multi_worker_mirrored":  # the cluster and this worker's place in it: TF_CONFIG
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                timeout_seconds=COLLECTIVE_TIMEOUT_S))
    return tf.distribute.get_strategy()


def tally(file_pattern, data_accessor, schema, num_classes: int) -> tuple[np.ndarray, registry.DataProfile]:
    """(examples per class, the DataProfile) of the files, read without decoding any image."""
    raw = data_accessor.tf_dataset_factory(
        file_pattern, tfxio.TensorFlowDatasetOptions(batch_size=1024, shuffle=False, num_epochs=1), schema)
    counts, small = np.zeros(num_classes, np.int64), 0
    for batch in raw:
        counts += np.bincount(tf.reshape(batch[features.LABEL_KEY], [-1]).numpy(), minlength=num_classes)
        sizes = batch.get(features.SIZE_KEY)  # optional: another ExampleGen's examples count as not small
        if sizes is not None:
            sizes = sizes.values if isinstance(sizes, tf.SparseTensor) else tf.reshape(sizes, [-1])
            small += int(np.sum(sizes.numpy() == features.SMALL_SIZE.encode()))
    return counts, registry.DataProfile(images=int(counts.sum()), small_images=small)


def count_labels(file_pattern, data_accessor, schema, num_classes: int) -> np.ndarray:
    """Examples per class in the files, read without decoding any image."""
    return tally(file_pattern, data_accessor, schema, num_classes)[0]


def balanced_class_weights(counts: np.ndarray) -> dict:
    """n / (classes x n_class), scikit-learn's "balanced": every class weighs as much in the loss
    as if the classes were equally common. A class absent from training gets weight 0."""
    counts = np.asarray(counts, np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return {index: float(weight) for index, weight in enumerate(weights)}


class TrainingDiverged(FloatingPointError):
    """The loss stopped being a number: no model worth evaluating or pushing will come of this fit."""


class StopOnDivergence(keras.callbacks.Callback):
    """Ends the fit at the first batch whose loss is NaN or infinite, with an error that names it.

    Keras' TerminateOnNaN would stop quietly and leave a NaN model for the Evaluator to crash on.
    """

    def __init__(self, learning_rate: float):
        super().__init__()
        self._learning_rate = learning_rate
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise TrainingDiverged(
                f"training diverged: the loss is {loss} at epoch {self._epoch + 1}, batch {batch + 1}; "
                f"try a lower --learning-rate (this run's: {self._learning_rate:g})")


class Progress(keras.callbacks.Callback):
    """One log line per epoch, and within an epoch longer than `every` seconds a line each `every`
    seconds (steps done, rate, time left): Keras' own lines are one per epoch at best."""

    def __init__(self, epochs: int, steps: int, every: float = 30.0):
        super().__init__()
        self._epochs, self._steps, self._every = epochs, steps, every

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._started = epoch + 1, time.monotonic()
        self._last, self._first_step_done = self._started, None

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if batch == 0:  # the first step also builds the graph: the rate is measured after it
            self._first_step_done = now
        elif now - self._last >= self._every and batch + 1 < self._steps:
            self._last = now
            rate = batch / (now - self._first_step_done)
            logging.info("epoch %d/%d: %d/%d steps, %.2f steps/s, about %.0f s left", self._epoch, self._epochs,
                         batch + 1, self._steps, rate, (self._steps - batch - 1) / rate)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        shown = ", ".join(f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy")
                          if key in logs)
        logging.info("epoch %d/%d: %s (%.0f s)", self._epoch, self._epochs, shown, time.monotonic() - self._started)


def steps_per_epoch(examples: int, batch_size: int) -> int:
    return max(1, math.ceil(examples / batch_size))


def make_callbacks(config: settings.Training, checkpoint_path: str, log_dir: str, steps: int) -> list:
    """The notebook's callbacks (its ReduceLROnPlateau and EarlyStopping, or the model's own
    schedule), plus TensorBoard logs; a loss that is not a number ends training with an error.
    `steps` is the number of training steps in an epoch."""
    # A warm-up + cosine schedule has no EarlyStopping: its length is part of the schedule, and
    # stopping on a stalled val_loss ends it while the rate is still high, before the low-rate
    # epochs that settle the weights (arch_2 with augmentation over 100 cosine epochs was
    # stopped at epoch 44, 0.754 val_accuracy).
    recipe = config.recipe
    stops_early = recipe.learning_rate_schedule == "reduce_on_plateau"
    return [
        StopOnDivergence(recipe.learning_rate),
        Progress(recipe.epochs, steps),
        keras.callbacks.ModelCheckpoint(checkpoint_path, save_weights_only=True, monitor="val_accuracy",
                                        mode="max", save_best_only=True),
        *learning_rate.schedule_callbacks(recipe.learning_rate_schedule, recipe.learning_rate, recipe.epochs, steps),
        *([keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, min_delta=1e-3)] if stops_early else []),
        keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"),
    ]


def crossentropy(num_classes: int, label_smoothing: float):
    """The loss on integer labels: the notebook's sparse cross-entropy, or with `label_smoothing`
    the cross-entropy against targets of 1 - label_smoothing + label_smoothing / classes for the
    true class and label_smoothing / classes for the others (Keras' sparse loss cannot smooth)."""
    if not label_smoothing:
        return "sparse_categorical_crossentropy"

    def smoothed_sparse_categorical_crossentropy(labels, probabilities):
        targets = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), num_classes, dtype=probabilities.dtype)
        return keras.losses.categorical_crossentropy(targets, probabilities, label_smoothing=label_smoothing)
    return smoothed_sparse_categorical_crossentropy


def network(config: settings.Training, num_classes: int) -> keras.Model:
    """The registry's model as the recipe trains it: its frozen blocks and BatchNorm layers not trainable."""
    return models.build(config.model_name, num_classes, frozen_blocks=config.recipe.frozen_blocks,
                        frozen_batchnorm=config.recipe.frozen_batchnorm)


def compiled_model(config: settings.Training, num_classes: int) -> tuple[keras.Model, keras.Model]:
    """(model to train, model to export): the registry's model under the config's precision,
    trained behind the augmentation layers when config.recipe.augment. They share their weights."""
    keras.mixed_precision.set_global_policy(config.precision)
    model = network(config, num_classes)
    trained = augmentation.with_augmentation(model, config.seed) if config.recipe.augment else model
    return compile_for_training(trained, config, num_classes, keras.optimizers.Adam(config.recipe.learning_rate)), model


def compile_for_training(trained: keras.Model, config: settings.Training, num_classes: int,
                         optimizer: keras.optimizers.Optimizer) -> keras.Model:
    """`trained` compiled with the recipe's loss under `optimizer`; again after its trainable layers
    change, as Keras needs (bench/recipe_cv_cpu.py's levers train the head alone first)."""
    trained.compile(optimizer=optimizer, loss=crossentropy(num_classes, config.recipe.label_smoothing),
                    metrics=["accuracy"])
    return trace_without_autograph(trained)


def trace_without_autograph(model: keras.Model) -> keras.Model:
    """`model`, whose fit and evaluate trace their steps as plain graphs, without AutoGraph.

    AutoGraph rewrites the Python source of every function a step calls (Keras' layers, losses,
    optimizer) so that Python control flow on tensors becomes graph control flow. None of those
    steps branches on a tensor, so the graph comes out the same op for op (the trained weights
    are bit-identical: tests/test_trainer.py), and without the rewriting the default model's
    training step traces in 8 s instead of 46 s on 2 cores (docs/benchmarks.md, "Where a default
    run's time goes"). Keras reuses a model's step functions until the next compile.
    """
    for step in ("train", "test"):
        keras_step = getattr(model, f"make_{step}_function")()
        setattr(model, f"{step}_function",
                tf.function(keras_step.python_function, autograph=False, reduce_retracing=True))
    model.train_tf_function = model.train_function
    return model


def for_fit(train_ds: tf.data.Dataset, steps: int, epochs: int) -> tf.data.Dataset:
    """The training batches as `fit` takes them, `steps` an epoch for `epochs`.

    One iterator for the whole fit: given a finite dataset, Keras makes a new one every epoch, and
    on the full data making or dropping one stalled training between epochs (docs/benchmarks.md,
    "Where a default run's time goes"). Each repetition is one pass in a new shuffled order. No
    more batches than the fit takes: an endless repetition's prefetch starts the next pass after
    the last epoch, and fit returned only once that pass had filled its shuffle buffer.
    """
    return train_ds.repeat().take(steps * epochs)


def train(config: settings.Training, train_ds, eval_ds, work_dir: str, label_counts: np.ndarray,
          distribution: tf.distribute.Strategy | None = None) -> tuple[keras.Model, dict]:
    """Fits the configured model; returns it with the best-validation-accuracy weights restored.

    Deterministic on CPU: the seed fixes initial weights, dropout masks, augmentation and the
    shuffle order, and op determinism makes TensorFlow pick reproducible kernels, so the same
    data and config give the same weights on the same machine (tests/test_trainer.py checks it
    bit for bit). `label_counts` (examples per class in train_ds) give the class weights, used
    when config.recipe.balance_classes, and the steps per epoch that a warm-up schedule needs; their
    length is the number of classes. Under `distribution` (a strategy from `strategy`), the
    datasets' batches are global ones, of config.batch_size per replica.
    """
    distribution = distribution or tf.distribute.get_strategy()
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    with distribution.scope():
        model, exported = compiled_model(config, len(label_counts))
    checkpoint = os.path.join(work_dir, "checkpoints", "best")
    steps = steps_per_epoch(int(np.sum(label_counts)), config.batch_size * distribution.num_replicas_in_sync)
    try:
        history = model.fit(for_fit(train_ds, steps, config.recipe.epochs), steps_per_epoch=steps,
                            validation_data=eval_ds, epochs=config.recipe.epochs,
                            class_weight=class_weights(config, label_counts),
                            callbacks=make_callbacks(config, checkpoint, work_dir, steps), verbose=0)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError) as e:
        if config.distribution != "multi_worker_mirrored":
            raise
        lines = [line.strip() for line in (e.message or "").splitlines() if line.strip()] or [type(e).__name__]
        detail = next((line for line in lines if "/job:" in line), lines[0])  # the line naming the lost task
        cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster")
        raise WorkerLost(f"training lost contact with a worker of its cluster {cluster}: "
                         f"{errors.tensorflow_words(detail)[:300]}") from None
    if distribution.extended.should_checkpoint and tf.io.gfile.exists(checkpoint + ".index"):
        model.load_weights(checkpoint).expect_partial()  # absent when no epoch ran; the chief's alone
    per_epoch = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    return served_copy(exported, config, len(label_counts)), per_epoch


def served_copy(model: keras.Model, config: settings.Training, num_classes: int) -> keras.Model:
    """The trained model computing in float32, which every CPU and accelerator serves, with plain
    variables (a strategy's distributed ones would tie the export to the cluster).

    Under a mixed policy the variables are float32 already, so the same architecture built
    under the float32 policy takes them as they are.
    """
    keras.mixed_precision.set_global_policy("float32")
    if config.precision == "float32" and config.distribution == "none":
        return model
    served = network(config, num_classes)  # frozen as `model` is, so that its weights come in the same order
    served.set_weights(model.get_weights())
    return served


def make_datasets(config: settings.Training, class_names: list, fn_args, tft_output: tft.TFTransformOutput,
                  replicas: int = 1, cache_folder: str | None = None, eval_examples: int = 0, shuffle: bool = True
                  ) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Training batches (shuffled unless not `shuffle`) and evaluation batches, of config.batch_size
    per replica; their decoded images cached in files in `cache_folder` (modules/image_cache.py),
    or decoded every pass without one. Over several replicas, the `eval_examples` evaluation images
    come in full batches only, the last one completed from the start of the split."""
    # Before the datasets are made: the shuffle's seed is derived from the global seed too.
    keras.utils.set_random_seed(config.seed)
    batch_size = config.batch_size * replicas
    # Workers of a multi-worker strategy each take their share of every pass's batches; the
    # ingested shards are too few to split by file.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA

    def cache(split):
        return None if cache_folder is None else os.path.join(cache_folder, split)
    train_ds = make_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, class_names,
                            batch_size, shuffle_seed=config.seed if shuffle else None,
                            cache=cache("train")).with_options(options)
    eval_ds = make_dataset(fn_args.eval_files, fn_args.data_accessor, tft_output, class_names,
                           batch_size, cache=cache("eval")).with_options(options)
    if replicas > 1:
        # A last, partial batch leaves some replica an empty one, on which oneDNN's CPU convolutions fail.
        eval_ds = eval_ds.unbatch().repeat().batch(batch_size).take(math.ceil(eval_examples / batch_size))
    return train_ds, eval_ds


def for_training_split(config: settings.Training, fn_args, tft_output: tft.TFTransformOutput, num_classes: int
                       ) -> tuple[settings.Training, np.ndarray, str | None]:
    """(the settings with the recipe for this training split, its examples per class, which recipe
    was chosen and why, when the model has two): the Trainer's and the Tuner's."""
    counts, profile = tally(fn_args.train_files, fn_args.data_accessor, tft_output.raw_metadata.schema, num_classes)
    choice = None
    if config.small_data_recipe is not None:
        choice = f"the model's recipe for {profile.describe(features.SMALL_SIZE)}"
        logging.info("trainer: %s", choice)
    return config.for_data(profile), counts, choice


def calibration_images(config: settings.Training, class_names: list, fn_args, tft_output: tft.TFTransformOutput
                       ) -> list[np.ndarray]:
    """The training images model_int8.tflite's activation ranges are calibrated on, each [1, size,
    size, 3] as the network takes it: the first of a seeded shuffle of the training split, as many
    as exporter.INT8_CALIBRATION_IMAGES."""
    dataset = make_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, class_names, 1,
                           shuffle_seed=config.seed)
    return [image.numpy() for image, _ in dataset.take(exporter.INT8_CALIBRATION_IMAGES)]


def fold_decision_bias(model: keras.Model, bias) -> None:
    """Adds `bias` (a value a class) to the logits of `model`'s last layer, its softmax, so that every
    export of the model decides with it (modules/decision_bias.py)."""
    last = model.layers[-1]
    if not (isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax):
        raise ValueError(f"{model.name}'s last layer, {last.name}, is not a softmax: no logits to add a bias to")
    last.bias.assign_add(tf.constant(bias, last.bias.dtype))


def class_weights(config: settings.Training, label_counts: np.ndarray) -> dict | None:
    """The loss weights that fit() takes: balanced when config.recipe.balance_classes, else none."""
    return balanced_class_weights(label_counts) if config.recipe.balance_classes else None


# TFX Trainer calls this.
def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """The TFX Trainer's entry point: trains the configured model (custom_config, with the Tuner's
    best hyperparameters when there are any), writes history.json and TensorBoard logs into the
    model_run directory and exports the serving model (modules/exporter.py)."""
    config, class_names, _ = settings.from_custom_config(fn_args.custom_config)
    distribution = strategy(config)
    if fn_args.hyperparameters:  # the Tuner's best, when the pipeline has a Tuner
        import keras_tuner
        config = config.with_hyperparameters(keras_tuner.HyperParameters.from_config(fn_args.hyperparameters).values)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    config, label_counts, recipe_choice = for_training_split(config, fn_args, tft_output, len(class_names))
    eval_examples = int(count_labels(fn_args.eval_files, fn_args.data_accessor, tft_output.raw_metadata.schema,
                                     len(class_names)).sum())
    examples = int(label_counts.sum()) + eval_examples
    replicas = distribution.num_replicas_in_sync
    if replicas > 1:
        logging.info("trainer: %s over %d replicas, %d images a step", config.distribution, replicas,
                     config.batch_size * replicas)
    image_size = registry.get_spec(config.model_name).image_size
    with image_cache.folder(image_cache.decoded_bytes(examples, image_size)) as cache_folder:
        if cache_folder:
            # Written unshuffled, as the first pass of training would write it: training then reads
            # the images in the same seeded orders as from a cache in memory.
            logging.info("trainer: decoding %d images into %s", examples, cache_folder)
            if not image_cache.fill(make_datasets(config, class_names, fn_args, tft_output, replicas, cache_folder,
                                                  eval_examples, shuffle=False), cache_folder):
                cache_folder = None
        train_ds, eval_ds = make_datasets(config, class_names, fn_args, tft_output, replicas, cache_folder,
                                          eval_examples)
        model, history = train(config, train_ds, eval_ds, fn_args.model_run_dir, label_counts, distribution)
    if not distribution.extended.should_checkpoint:
        # Workers other than the chief train alone: the chief writes the history and exports the model.
        logging.info("trainer: training done on this worker; the chief exports the model")
        return
    bias = None if config.no_decision_bias else decision_bias.shipped(class_names, config.model_name,
                                                                      dataclasses.asdict(config.recipe))
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "history.json"), "w") as f:
        json.dump({"config": dataclasses.asdict(config), "recipe_choice": recipe_choice,
                   "decision_bias": bias and {"source": bias.source, "bias": dict(zip(class_names, bias.bias))},
                   "class_weight": class_weights(config, label_counts), "history": history}, f, indent=2)
    if history.get("val_accuracy"):
        logging.info("trainer: %d epochs, best val_accuracy %.4f; exporting the serving model",
                     len(history["val_accuracy"]), max(history["val_accuracy"]))
    if bias:
        fold_decision_bias(model, bias.bias)
        logging.info("trainer: the decision bias of %s folded into the softmax (the val_accuracy above is "
                     "without it)", bias.source)
    started = time.monotonic()
    exporter.export_serving_model(model, tft_output, class_names, fn_args.serving_model_dir)
    calibration = None if config.no_int8_tflite else functools.partial(
        calibration_images, config, class_names, fn_args, tft_output)
    exporter.export_tflite(model, image_size, fn_args.serving_model_dir, calibration)
    logging.info("trainer: serving model exported in %.0f s (SavedModel and TensorFlow Lite%s)",
                 time.monotonic() - started, "" if calibration is None else ", float32 and int8")
