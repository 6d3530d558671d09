"""The models a run can train: each entry names the network modules/model.py builds, the input size
the Transform graph and the serving signatures follow, and its training recipe. No TensorFlow, so
that flags and settings are checked at once (modules/settings.py)."""
from __future__ import annotations

import dataclasses
from typing import Optional

from modules import lite_family, values
from modules.values import field


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a network is trained. A registered model declares its whole recipe (MODELS below); a
    run's Training (modules/settings.py) holds a partial one, where None is the model's own."""
    epochs: Optional[int] = field(None, "the most epochs (under reduce_on_plateau, EarlyStopping may end sooner)",
                                  values.epochs)
    learning_rate: Optional[float] = field(None, "Adam's, the peak of a warm-up schedule", values.learning_rate)
    learning_rate_schedule: Optional[str] = field(
        None, "the notebook's reduce_on_plateau, or a one-epoch warm-up then a cosine decay to 0",
        values.one_of(values.SCHEDULES, "learning-rate schedule"))
    augment: Optional[bool] = field(None, "random flips, rotations and zooms of training images")
    # Each class's loss weighted by n / (classes x n_class), so that rare classes count as much as
    # common ones.
    balance_classes: Optional[bool] = field(None, "weight the loss so that every class counts equally")
    frozen_blocks: Optional[int] = field(None, "keep an EfficientNet-Lite's stem and first N blocks as they are",
                                         values.whole_number)
    label_smoothing: Optional[float] = field(
        None, "train against targets of 1 - S (+ S / classes) instead of 1", values.smoothing)
    frozen_batchnorm: Optional[bool] = field(
        None, "fine-tune an EfficientNet-Lite with every BatchNorm layer kept on its ImageNet statistics and scale")

    def over(self, base: "Recipe") -> "Recipe":
        """This recipe, with `base`'s value wherever this one has None."""
        return dataclasses.replace(base, **{k: v for k, v in dataclasses.asdict(self).items() if v is not None})

    def unset(self) -> list:
        return [name for name, value in dataclasses.asdict(self).items() if value is None]


RECIPE_FIELDS = tuple(f.name for f in dataclasses.fields(Recipe))

# The notebook's recipe: Adam at 1e-3 under ReduceLROnPlateau, whose EarlyStopping usually ends
# training well before the most epochs; no augmentation, no class weights.
NOTEBOOK = Recipe(epochs=100, learning_rate=1e-3, learning_rate_schedule="reduce_on_plateau", augment=False,
                  balance_classes=False, frozen_blocks=0, label_smoothing=0.0, frozen_batchnorm=False)


# Fewer training images than this are small data whatever their size: a recipe chosen on the full
# clothing photographs (thousands of images) may train too few steps on them (docs/models.md, "A
# recipe that depends on the data").
FEW_IMAGES = 1000


@dataclasses.dataclass(frozen=True)
class DataProfile:
    """What the Trainer counts in its training split before it trains, for a recipe to depend on."""
    images: int
    small_images: int  # whose original's shorter side is in features.SMALL_SIZE (under 128 px)

    @property
    def small(self) -> bool:
        """Small data: mostly small pictures (thumbnails, icons, scans of the MNIST or CIFAR kind), far
        from the photographs ImageNet weights were trained on, or few images of any kind."""
        return self.small_images * 2 > self.images or self.images < FEW_IMAGES

    def describe(self, small_size: str) -> str:
        """Which kind of data and both counts behind it; `small_size` names the size bucket counted
        (modules/features.SMALL_SIZE, which this module cannot import: it needs TensorFlow)."""
        return (f"{'small' if self.small else 'larger'} data: {self.images} training images (under "
                f"{FEW_IMAGES} is small), {self.small_images} of them {small_size} (over half is small)")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    network: str  # a builder in modules/model.NETWORKS: (image_size, num_classes) -> model
    image_size: int
    recipe: Recipe = NOTEBOOK  # whole: every field set
    freezable_blocks: int = 0  # an EfficientNet-Lite's blocks (0 for a network without them)
    # Partial: what changes in `recipe` when the training split is small data (DataProfile.small);
    # None: the same recipe for every data set.
    small_data: Optional[Recipe] = None

    @property
    def small_data_recipe(self) -> Optional[Recipe]:
        """The whole recipe for small data, when the model has one."""
        return None if self.small_data is None else self.small_data.over(self.recipe)


def fine_tuned_lite(variant: str, epochs: int = 8, frozen_blocks: int = 0, frozen_batchnorm: bool = False
                    ) -> ModelSpec:
    """An EfficientNet-Lite at the resolution it was trained on, with the fine-tuning recipe: a
    one-epoch warm-up to half the from-scratch rate, then a cosine decay (docs/recipe_cv.md),
    augmentation and class weights. `frozen_blocks` trades accuracy for time: the first blocks'
    backward pass, at the highest resolution, is the costliest part of a step (docs/benchmarks.md,
    "Training-step levers")."""
    family = lite_family.VARIANTS[variant]
    return ModelSpec(variant, image_size=family.image_size, freezable_blocks=len(lite_family.block_specs(family)),
                     recipe=dataclasses.replace(NOTEBOOK, learning_rate=5e-4, learning_rate_schedule="warmup_cosine",
                                                epochs=epochs, frozen_blocks=frozen_blocks, augment=True,
                                                balance_classes=True, frozen_batchnorm=frozen_batchnorm))


MODELS = {
    # The notebook's two networks and its recipe: the baselines.
    "arch_1": ModelSpec("arch_1", image_size=128),
    "arch_2": ModelSpec("arch_2", image_size=128),
    # Without augmentation, which cost accuracy within its 30 epochs (docs/benchmarks.md, Accuracy).
    "scratch_cnn": ModelSpec("scratch_cnn", image_size=128, recipe=dataclasses.replace(
        NOTEBOOK, epochs=30, learning_rate_schedule="warmup_cosine", balance_classes=True)),
    "efficientnet_lite0": fine_tuned_lite("efficientnet_lite0"),
    # The next-larger Lite at its own resolution, with its stem and first three stages (7 blocks) as
    # ImageNet trained them and 5 epochs, so that a default full-data run fits in 15 minutes on 2 CPU
    # cores: docs/benchmarks.md, "Recipes for the default model", and docs/recipe_cv.md. Every
    # BatchNorm stays on ImageNet's statistics, which lifted every class on cross-validation
    # (docs/recipe_cv.md, "BatchNorm on ImageNet's statistics"). Pictures unlike ImageNet's
    # photographs (small, greyscale, drawn), and few images of any kind, need the whole network, its
    # BatchNorm included, and more steps: docs/models.md, "A recipe that depends on the data".
    "efficientnet_lite1": dataclasses.replace(
        fine_tuned_lite("efficientnet_lite1", epochs=5, frozen_blocks=7, frozen_batchnorm=True),
        small_data=Recipe(frozen_blocks=0, epochs=8, frozen_batchnorm=False)),
}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(MODELS))})")
    return MODELS[name]
