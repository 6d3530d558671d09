"""A run's settings, in one definition: built once at the edge (cli/main.py, from flags and the
environment), passed whole through the runner to pipeline.create_pipeline, serialised into the
Trainer's and Tuner's custom_config, and read back here by modules/trainer.py and modules/tuner.py.

A new knob is one field here, one flag in the CLI, and the code that uses it. Importing this
loads no TensorFlow, so that the CLI can build its flags from these defaults at once.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

# Limits of what a run may ask for (more epochs than this is weeks on a laptop; Adam above this
# rate blows the weights up at once).
MAX_EPOCHS = 1000
MAX_LEARNING_RATE = 1.0
# Keras mixed-precision policies of the training step. "mixed_bfloat16" (float32 weights, bfloat16
# math) is faster only on CPUs with bfloat16 units (docs/models.md); it is emulated, and slower,
# elsewhere. The exported model always computes in float32.
PRECISIONS = ("float32", "mixed_bfloat16")
# tf.distribute strategies the Trainer can train under (modules/trainer.strategy): none (one
# process, as a laptop runs it), mirrored (the devices of one machine), multi_worker_mirrored
# (several machines, each told its part by TF_CONFIG: docs/kubeflow.md, "Training on several machines").
DISTRIBUTIONS = ("none", "mirrored", "multi_worker_mirrored")
# The fields of Training that a registered model's spec also has, as its own recipe
# (modules/model.ModelSpec): None in Training means the spec's.
RECIPE_FIELDS = ("epochs", "learning_rate", "learning_rate_schedule", "augment", "balance_classes", "frozen_blocks",
                 "label_smoothing")
# The settings the Tuner searches (modules/tuner.py); everything else is fixed by the pipeline.
TUNABLE = ("learning_rate", "augment", "balance_classes")


@dataclasses.dataclass(frozen=True)
class Training:
    """What the Trainer trains and how. A field left None is the model's own recipe (modules/model.py);
    `resolved()` fills those in, and the pipeline serialises only resolved settings."""
    # What a run trains unless told otherwise: the registry's most accurate entry (docs/benchmarks.md).
    model_name: str = "efficientnet_lite1"
    epochs: Optional[int] = None
    learning_rate: Optional[float] = None  # Adam's, the peak of a warm-up schedule
    learning_rate_schedule: Optional[str] = None  # one of modules/learning_rate.py's SCHEDULES
    augment: Optional[bool] = None
    balance_classes: Optional[bool] = None
    frozen_blocks: Optional[int] = None  # an EfficientNet-Lite's stem and first blocks kept as they are
    label_smoothing: Optional[float] = None  # of the cross-entropy's targets, 0 to below 1
    batch_size: int = 32  # per replica: a step under a strategy trains on batch_size x replicas
    precision: str = "float32"  # one of PRECISIONS
    seed: int = 111  # the notebook's
    distribution: str = "none"  # one of DISTRIBUTIONS

    def resolved(self) -> "Training":
        """These settings with the model's own recipe wherever a field is None."""
        from modules import model as models  # loads TensorFlow
        spec = models.get_spec(self.model_name)
        return dataclasses.replace(self, **{name: getattr(spec, name) for name in RECIPE_FIELDS
                                            if getattr(self, name) is None})

    def with_hyperparameters(self, values: dict | None) -> "Training":
        """These settings with the Tuner's best values (modules/tuner.py) in place of their own."""
        return dataclasses.replace(self, **{k: v for k, v in (values or {}).items() if k in TUNABLE})


@dataclasses.dataclass(frozen=True)
class Gates:
    """The Evaluator's quality gates (pipeline/pipeline.make_eval_config): the candidate is blessed
    only if its eval accuracy reaches the floor, falls no more than the tolerance below the model
    serving now, and every class's recall reaches its floor, so that a model cannot buy overall
    accuracy by giving up a class."""
    # A floor that stops a broken model, not a slightly worse one (the notebook's arch_2 reaches ~0.77).
    accuracy_floor: float = 0.6
    regression_tolerance: float = 0.02
    # Below the weakest class of every registered model on validation (docs/benchmarks.md, Accuracy).
    class_recall_floor: float = 0.4
    # Push even when the model serving now classifies another list of classes, replacing it. Off: a
    # run on other data must not switch a serving folder to another model by accident.
    replace_class_list: bool = False


@dataclasses.dataclass(frozen=True)
class Tuning:
    """An optional Tuner step before the Trainer: how many hyperparameter sets it tries, and for
    how many epochs each."""
    trials: int = 6
    epochs: int = 1


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a run's model depends on besides its data."""
    training: Training = Training()
    gates: Gates = Gates()
    tuning: Optional[Tuning] = None  # no Tuner step by default


def to_custom_config(training: Training, class_names: Sequence[str], tuning: Optional[Tuning] = None) -> dict:
    """The Trainer's (and, with `tuning`, the Tuner's) custom_config: JSON-ready, every field resolved."""
    config = {"training": dataclasses.asdict(training.resolved()), "class_names": list(class_names)}
    if tuning:
        config["tuning"] = dataclasses.asdict(tuning)
    return config


def from_custom_config(custom_config: dict | None) -> tuple[Training, list, Optional[Tuning]]:
    """(training, class_names, tuning) back from to_custom_config's dict."""
    custom_config = custom_config or {}
    if not isinstance(custom_config.get("training"), dict):
        raise ValueError("custom_config lacks training")
    if not custom_config.get("class_names"):
        raise ValueError("custom_config lacks class_names")
    fields = {field.name for field in dataclasses.fields(Training)}
    unknown = sorted(set(custom_config["training"]) - fields)
    if unknown:
        raise ValueError(f"custom_config's training has unknown settings {unknown}")
    training = Training(**custom_config["training"])
    unresolved = [name for name in RECIPE_FIELDS if getattr(training, name) is None]
    if unresolved:
        raise ValueError(f"custom_config's training lacks {unresolved}")
    tuning = Tuning(**custom_config["tuning"]) if custom_config.get("tuning") else None
    return training, list(custom_config["class_names"]), tuning
