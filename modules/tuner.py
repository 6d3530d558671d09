"""TFX Tuner entry point (optional: `--tune`): KerasTuner searches the learning rate,
augmentation and class weighting of the configured model, and the Trainer takes the best.

The search never sees the eval split: it trains on four fifths of the training split and
scores on the other fifth, so the Evaluator's gates still judge the Trainer's model on images
that no choice was made on.
"""
from __future__ import annotations

import math

import keras_tuner
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from modules import learning_rate, settings, trainer

HOLDOUT_EVERY = 5  # every 5th training example scores the trials


def search_space(config: settings.Training) -> keras_tuner.HyperParameters:
    """Around the model's own recipe: its learning rate and a third and three times it, with
    and without augmentation and class weights."""
    space = keras_tuner.HyperParameters()
    rate = config.recipe.learning_rate
    space.Choice("learning_rate", [rate, rate / 3, rate * 3], default=rate)
    space.Boolean("augment", default=config.recipe.augment)
    space.Boolean("balance_classes", default=config.recipe.balance_classes)
    return space


class TrainingHyperModel(keras_tuner.HyperModel):
    """The Trainer's own model and fit, with a trial's values in place of the config's."""

    def __init__(self, config: settings.Training, label_counts: np.ndarray):
        super().__init__(name=config.model_name)
        self.config, self.label_counts = config, label_counts

    def build(self, hp):
        trained, _ = trainer.compiled_model(self.config.with_hyperparameters(hp.values), len(self.label_counts))
        return trained

    def fit(self, hp, model, *args, epochs: int, callbacks=None, **kwargs):
        config = self.config.with_hyperparameters(hp.values)
        examples = int(self.label_counts.sum())
        schedule = learning_rate.schedule_callbacks(
            config.recipe.learning_rate_schedule, config.recipe.learning_rate, epochs,
            trainer.steps_per_epoch(examples - math.ceil(examples / HOLDOUT_EVERY), config.batch_size))
        return model.fit(*args, epochs=epochs, class_weight=trainer.class_weights(config, self.label_counts),
                         callbacks=[*(callbacks or []), *schedule], **kwargs)


def _fold(keep_holdout: bool):
    def select(dataset: tf.data.Dataset) -> tf.data.Dataset:
        in_holdout = lambda index, _: tf.equal(index % HOLDOUT_EVERY == 0, keep_holdout)  # noqa: E731
        return dataset.enumerate().filter(in_holdout).map(lambda _, example: example)
    return select


# TFX Tuner calls this.
def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    """The TFX Tuner's entry point: a seeded random search over the TUNABLE settings, training on
    four fifths of the training split and scoring on the other fifth (never on the eval split)."""
    config, class_names, tuning = settings.from_custom_config(fn_args.custom_config)
    if tuning is None:
        raise ValueError("the Tuner's custom_config lacks tuning")
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    config, label_counts, _ = trainer.for_training_split(config, fn_args, tft_output, len(class_names))
    tf.keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()

    def part(keep_holdout: bool, shuffle_seed=None):
        return trainer.make_dataset(fn_args.train_files, fn_args.data_accessor, tft_output, class_names,
                                    config.batch_size, shuffle_seed=shuffle_seed, select=_fold(keep_holdout))

    tuner = keras_tuner.RandomSearch(
        TrainingHyperModel(config, label_counts),
        hyperparameters=search_space(config), objective="val_accuracy", max_trials=tuning.trials,
        seed=config.seed, directory=fn_args.working_dir, project_name="search", overwrite=True)
    return tfx.components.TunerFnResult(tuner=tuner, fit_kwargs={
        "x": part(keep_holdout=False, shuffle_seed=config.seed), "validation_data": part(keep_holdout=True),
        "epochs": tuning.epochs, "verbose": 2})
