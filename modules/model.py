"""Model registry: each entry builds an uncompiled Keras model and declares its input size and
training recipe (the Transform graph, the serving signatures and the Trainer follow them)."""
import dataclasses
import functools
from typing import Callable

import tensorflow as tf

from modules import efficientnet_lite as lite

keras = tf.keras
layers = keras.layers
regularizers = keras.regularizers


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    build: Callable[[int, int], keras.Model]  # (image_size, num_classes) -> model
    image_size: int
    learning_rate: float = 1e-3  # Adam's (the peak of a warm-up schedule); the notebook's
    learning_rate_schedule: str = "reduce_on_plateau"  # modules/learning_rate.py; the notebook's
    # The most under the notebook's schedule, whose EarlyStopping usually ends training first;
    # all of them under warmup_cosine.
    epochs: int = 100
    augment: bool = False  # random flips, rotations and zooms of training images (modules/augmentation.py)
    # Weight each class's loss by n / (classes x n_class), so that rare classes count as much
    # as common ones.
    balance_classes: bool = False
    # An EfficientNet-Lite's stem and first blocks not trained (modules/efficientnet_lite.freeze),
    # of the blocks it has (0 for a network without them).
    frozen_blocks: int = 0
    freezable_blocks: int = 0
    # Targets of 1 - s + s / classes for the true class and s / classes for the rest, not 1 and 0
    # (modules/trainer.crossentropy).
    label_smoothing: float = 0.0


def probabilities(num_classes: int) -> layers.Layer:
    # float32 even under a mixed-precision policy: bfloat16 keeps 3 significant digits, too few
    # for a softmax and the log-loss taken of it. Under the float32 policy it changes nothing.
    return layers.Dense(num_classes, activation="softmax", dtype="float32")


def arch_1(image_size: int, num_classes: int) -> keras.Model:
    """The notebook's plain CNN, as written there (the baseline)."""
    return keras.Sequential(name="model_cnn_1", layers=[
        layers.Conv2D(16, 3, padding="same", activation="relu", input_shape=(image_size, image_size, 3)),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(128, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(256, 3, padding="same", activation="relu"),
        layers.GlobalAveragePooling2D(),
        layers.Dense(256, activation="relu"),
        probabilities(num_classes),
    ])


def arch_2(image_size: int, num_classes: int) -> keras.Model:
    """The notebook's tuned CNN, as written there: BatchNorm after ReLU, L2 1e-3, dropout 0.5."""
    def conv_block(filters, **kwargs):
        return [layers.Conv2D(filters, 3, padding="same", kernel_regularizer=regularizers.l2(1e-3), **kwargs),
                layers.Activation("relu"),
                layers.BatchNormalization()]

    return keras.Sequential(name="model_cnn_2", layers=[
        *conv_block(16, input_shape=(image_size, image_size, 3)), layers.MaxPooling2D(),
        *conv_block(32), layers.MaxPooling2D(),
        *conv_block(64), layers.MaxPooling2D(),
        *conv_block(128), layers.MaxPooling2D(),
        *conv_block(256),
        layers.GlobalAveragePooling2D(),
        layers.Dense(256, kernel_regularizer=regularizers.l2(1e-3)),
        layers.Activation("relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
        probabilities(num_classes),
    ])


def scratch_cnn(image_size: int, num_classes: int) -> keras.Model:
    """arch_2's plan made deeper and wider, to be trained from scratch (two 3x3 convolutions per
    stage, BatchNorm before ReLU, a strided stem to keep 128 px cheap)."""
    def conv_bn_relu(x, filters, strides=1):
        x = layers.Conv2D(filters, 3, strides, padding="same", use_bias=False,
                          kernel_regularizer=regularizers.l2(1e-4))(x)
        return layers.Activation("relu")(layers.BatchNormalization()(x))

    inputs = keras.Input((image_size, image_size, 3))
    x = conv_bn_relu(inputs, 32, strides=2)
    for filters, convolutions in ((64, 1), (96, 2), (192, 2)):
        for _ in range(convolutions):
            x = conv_bn_relu(x, filters)
        x = layers.MaxPooling2D()(x)
    x = conv_bn_relu(x, 384)
    x = layers.Dropout(0.4)(layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, probabilities(num_classes)(x), name="scratch_cnn")


def efficientnet_lite(variant: str, image_size: int, num_classes: int) -> keras.Model:
    """An EfficientNet-Lite with its ImageNet weights (no download: modules/efficientnet_lite.py),
    fine-tuned whole under a new softmax."""
    backbone = lite.imagenet_model(image_size, variant=lite.VARIANTS[variant])
    inputs = keras.Input((image_size, image_size, 3))
    features = layers.Dropout(0.2)(backbone(inputs))
    return keras.Model(inputs, probabilities(num_classes)(features), name=f"{variant}_classifier")


def fine_tuned_lite(variant: str, epochs: int = 8, frozen_blocks: int = 0) -> ModelSpec:
    """An EfficientNet-Lite at the resolution it was trained on, with the fine-tuning recipe: a
    one-epoch warm-up to half the from-scratch rate, then a cosine decay, which beat a constant 1e-4
    in 5-fold cross-validation on two splits (docs/recipe_cv.md), augmentation and class weights.
    `frozen_blocks` trades accuracy for time: the first blocks' backward pass, at the highest
    resolution, is the costliest part of a step (docs/benchmarks.md, "Training-step levers").
    """
    return ModelSpec(functools.partial(efficientnet_lite, variant), image_size=lite.VARIANTS[variant].image_size,
                     freezable_blocks=len(lite.block_specs(lite.VARIANTS[variant])),
                     learning_rate=5e-4, learning_rate_schedule="warmup_cosine", epochs=epochs,
                     frozen_blocks=frozen_blocks, augment=True, balance_classes=True)


MODELS = {
    # The notebook's two networks and its recipe: the baselines.
    "arch_1": ModelSpec(arch_1, image_size=128),
    "arch_2": ModelSpec(arch_2, image_size=128),
    # Without augmentation: within 30 epochs it cost 8.5 points (0.707 against 0.792, README,
    # Measured), the network still underfitting the augmented images at its last epoch. Augmented over 80
    # epochs it gave 0.824, level with arch_2 at 6 times arch_2's training time.
    "scratch_cnn": ModelSpec(scratch_cnn, image_size=128, epochs=30, learning_rate_schedule="warmup_cosine",
                             augment=False, balance_classes=True),
    "efficientnet_lite0": fine_tuned_lite("efficientnet_lite0"),  # 224 px
    # The next-larger Lite, at its own 240 px: its frozen features beat Lite0's in 5-fold
    # cross-validation (bench/pretrained_probe.py). Its stem and first three stages (7 blocks) stay
    # as ImageNet trained them and it trains 5 epochs, so that a default full-data run fits in
    # 15 minutes on 2 CPU cores; the recipes tried and their cost: docs/benchmarks.md, "Recipes for
    # the default model". 6 epochs were 0.5 points better in 3-fold cross-validation
    # (docs/recipe_cv.md) but took 17.7 minutes on a slow day of the same machine.
    "efficientnet_lite1": fine_tuned_lite("efficientnet_lite1", epochs=5, frozen_blocks=7),
}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model '{name}' (known: {', '.join(sorted(MODELS))})")
    return MODELS[name]


def build(name: str, num_classes: int, frozen_blocks: int = 0) -> keras.Model:
    """The registry's model `name`, uncompiled; with `frozen_blocks`, an EfficientNet-Lite's stem
    and first blocks are not trained (modules/efficientnet_lite.freeze)."""
    spec = get_spec(name)
    model = spec.build(spec.image_size, num_classes)
    if frozen_blocks:
        backbones = [layer for layer in model.layers if layer.name in lite.VARIANTS]
        if not backbones:
            raise ValueError(f"model '{name}' has no EfficientNet-Lite blocks to freeze")
        lite.freeze(backbones[0], frozen_blocks)
    return model
