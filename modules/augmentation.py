"""Random changes to training images, applied by the Trainer only.

They live in the training model's input, not in Transform: the Transform graph is also the
serving graph, and a served image must be seen as it is. Photos of clothes are taken from
either side, a little askew, from nearer or farther; a mirrored, turned or zoomed photo is
still the same garment, so each epoch shows the network new views of the same 3,068 images.
"""
import tensorflow as tf

keras = tf.keras
layers = keras.layers

MAX_ROTATION = 0.05  # of a full turn: +-18 degrees
ZOOM = (-0.2, 0.1)   # up to 20% closer, 10% farther


def augmentation_layers(seed: int) -> keras.Sequential:
    # float32 whatever the global policy: image warps have no bfloat16 CPU kernels, and the
    # network's first layer casts to its own compute type anyway.
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed, dtype="float32"),
        layers.RandomRotation(MAX_ROTATION, fill_mode="reflect", seed=seed + 1, dtype="float32"),
        layers.RandomZoom(ZOOM, fill_mode="reflect", seed=seed + 2, dtype="float32"),
    ], name="augmentation")


def with_augmentation(model: keras.Model, seed: int) -> keras.Model:
    """`model` behind the augmentation layers, which act only in training. It shares `model`'s
    layers and weights, so training it trains `model`, and `model` alone is exported."""
    inputs = keras.Input(model.input_shape[1:])
    return keras.Model(inputs, model(augmentation_layers(seed)(inputs)), name=f"{model.name}_augmented")
