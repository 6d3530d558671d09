"""A run's settings, in one definition: built once at the edge (cli/arguments.py, from flags and the
environment), passed whole through the runner to pipeline.create_pipeline, serialised into the
Trainer's and Tuner's custom_config, and read back here by modules/trainer.py and modules/tuner.py.

A new knob is one field here (or in the recipe, modules/registry.Recipe), with its help and its
reader as the field's metadata (modules/values.field); the CLI makes the flag from that
(cli/arguments.py). Importing this loads no TensorFlow, so that flags are checked at once.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from modules import registry, values
from modules.registry import RECIPE_FIELDS, Recipe
from modules.values import field

# Keras mixed-precision policies of the training step. "mixed_bfloat16" (float32 weights, bfloat16
# math) is faster only on CPUs with bfloat16 units (docs/models.md); it is emulated, and slower,
# elsewhere. The exported model always computes in float32.
PRECISIONS = ("float32", "mixed_bfloat16")
# tf.distribute strategies the Trainer can train under (modules/trainer.strategy): none (one
# process, as a laptop runs it), mirrored (the devices of one machine), multi_worker_mirrored
# (several machines, each told its part by TF_CONFIG: docs/kubeflow.md, "Training on several machines").
DISTRIBUTIONS = ("none", "mirrored", "multi_worker_mirrored")
# The Recipe fields the Tuner searches (modules/tuner.py); everything else is fixed by the pipeline.
TUNABLE = ("learning_rate", "augment", "balance_classes")


def model_name(text: str) -> str:
    return values.one_of(sorted(registry.MODELS), "model")(text)


@dataclasses.dataclass(frozen=True)
class Training:
    """What the Trainer trains and how. `recipe`'s None fields are the model's own recipe;
    `resolved()` fills those in, and the pipeline serialises only resolved settings."""
    # What a run trains unless told otherwise: the registry's most accurate entry (docs/benchmarks.md).
    model_name: str = field("efficientnet_lite1", "the network (modules/registry.py)", model_name, flag="--model")
    recipe: Recipe = Recipe()
    batch_size: int = field(32, "images a step, per replica: under a strategy a step trains batch size x replicas",
                            values.count)
    precision: str = field("float32", "training math; mixed_bfloat16 is faster only on CPUs with bfloat16 units; "
                                      "the exported model is float32 either way",
                           values.one_of(PRECISIONS, "precision"))
    seed: int = 111  # the notebook's
    distribution: str = field(
        "none", "tf.distribute strategy of the Trainer: mirrored over one machine's devices, or "
                "multi_worker_mirrored over the workers that TF_CONFIG names (docs/kubeflow.md)",
        values.one_of(DISTRIBUTIONS, "distribution"))
    no_decision_bias: bool = field(False, "export the network without the decision bias shipped for the data's "
                                          "classes, model and recipe (modules/decision_bias.py)")
    no_int8_tflite: bool = field(False, "push model.tflite alone, without its int8 copy model_int8.tflite "
                                        "(calibrating that copy takes the Trainer about a minute for the default "
                                        "model)")
    # Set by resolved() when the model trains small data another way (ModelSpec.small_data) and the
    # given recipe leaves that to the model: the Trainer, which counts the images, chooses
    # (for_data). Not a flag: the recipe's flags set both.
    small_data_recipe: Optional[Recipe] = None

    def resolved(self) -> "Training":
        """These settings with the model's own recipe wherever a field is None (and its recipe for
        small data in small_data_recipe, where that differs)."""
        spec = registry.get_spec(self.model_name)
        recipe = self.recipe.over(spec.recipe)
        small = self.small_data_recipe or (spec.small_data_recipe and self.recipe.over(spec.small_data_recipe))
        return dataclasses.replace(self, recipe=recipe, small_data_recipe=small if small != recipe else None)

    def for_data(self, profile: registry.DataProfile) -> "Training":
        """These resolved settings for a training split like `profile`: one recipe, the one it takes."""
        small = profile.small and self.small_data_recipe is not None
        return dataclasses.replace(self, recipe=self.small_data_recipe if small else self.recipe,
                                   small_data_recipe=None)

    def replaced(self, **given) -> "Training":
        """These settings with `given` in place, the recipe's fields (in both recipes) and the others alike."""
        recipe = {name: value for name, value in given.items() if name in RECIPE_FIELDS}
        others = {name: value for name, value in given.items() if name not in recipe}
        small = self.small_data_recipe and dataclasses.replace(self.small_data_recipe, **recipe)
        return dataclasses.replace(self, recipe=dataclasses.replace(self.recipe, **recipe), small_data_recipe=small,
                                   **others)

    def with_hyperparameters(self, best: dict | None) -> "Training":
        """These settings with the Tuner's best values (modules/tuner.py) in place of their own."""
        return self.replaced(**{k: v for k, v in (best or {}).items() if k in TUNABLE})

    def check(self) -> None:
        """Raises ValueError, starting with the flag it is about, if the model cannot take this recipe."""
        blocks = registry.get_spec(self.model_name).freezable_blocks
        if self.recipe.frozen_blocks and self.recipe.frozen_blocks > blocks:
            raise ValueError(f"--frozen-blocks: {self.model_name} has "
                             + (f"only {blocks} blocks" if blocks else "no EfficientNet-Lite blocks to freeze"))
        if self.recipe.frozen_batchnorm and not blocks:
            raise ValueError(f"--frozen-batchnorm: {self.model_name} has no ImageNet BatchNorm statistics to keep "
                             "(an EfficientNet-Lite has)")


@dataclasses.dataclass(frozen=True)
class Gates:
    """The Evaluator's quality gates (pipeline/pipeline.make_eval_config): the candidate is blessed
    only if its eval accuracy reaches the floor, falls no more than the tolerance below the model
    serving now, and every class's recall reaches its floor, so that a model cannot buy overall
    accuracy by giving up a class."""
    # A floor that stops a broken model, not a slightly worse one (the notebook's arch_2 reaches ~0.77).
    accuracy_floor: float = field(0.6, "blessing needs at least this eval accuracy", values.fraction)
    regression_tolerance: float = field(0.02, "blessing allows this much accuracy below the model serving now",
                                        values.fraction)
    # Below the weakest class of every registered model on validation (docs/benchmarks.md, Accuracy).
    class_recall_floor: float = field(0.4, "blessing needs every class's recall at least this", values.fraction)
    # Off: a run on other data must not switch a serving folder to another model by accident.
    replace_class_list: bool = field(False, "push even if the model serving now classifies other classes, "
                                            "replacing it (off: such a push is refused; give other data its "
                                            "own --pipeline-name)")


@dataclasses.dataclass(frozen=True)
class Tuning:
    """An optional Tuner step before the Trainer: how many hyperparameter sets it tries, and for
    how many epochs each (None: a third of the model's epochs, at least 1)."""
    trials: int = field(6, "hyperparameter sets the Tuner tries", values.count, flag="--tuning-trials")
    epochs: Optional[int] = field(None, "epochs per trial (default: a third of the model's epochs, at least 1)",
                                  values.epochs, flag="--tuning-epochs")

    def resolved(self, training: Training) -> "Tuning":
        return dataclasses.replace(self, epochs=self.epochs or max(1, training.resolved().recipe.epochs // 3))


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
        config["tuning"] = dataclasses.asdict(tuning.resolved(training))
    return config


def _known(cls, saved: dict, what: str) -> dict:
    unknown = sorted(set(saved) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"custom_config's {what} has unknown settings {unknown}")
    return saved


def from_custom_config(custom_config: dict | None) -> tuple[Training, list, Optional[Tuning]]:
    """(training, class_names, tuning) back from to_custom_config's dict."""
    custom_config = custom_config or {}
    saved = custom_config.get("training")
    if not isinstance(saved, dict) or not isinstance(saved.get("recipe"), dict):
        raise ValueError("custom_config lacks training and its recipe")
    if not custom_config.get("class_names"):
        raise ValueError("custom_config lacks class_names")
    recipe = Recipe(**_known(Recipe, saved["recipe"], "recipe"))
    small = saved.get("small_data_recipe")
    small = Recipe(**_known(Recipe, small, "small_data_recipe")) if small else None
    training = Training(**{**_known(Training, saved, "training"), "recipe": recipe, "small_data_recipe": small})
    if recipe.unset():
        raise ValueError(f"custom_config's recipe lacks {recipe.unset()}")
    tuning = Tuning(**custom_config["tuning"]) if custom_config.get("tuning") else None
    if tuning and tuning.epochs is None:
        raise ValueError("custom_config's tuning lacks epochs")
    return training, list(custom_config["class_names"]), tuning

