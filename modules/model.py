"""The networks of the model registry (modules/registry.py), built as uncompiled Keras models."""
import functools

import tensorflow as tf

from modules import efficientnet_lite as lite, lite_family, registry

keras = tf.keras
layers = keras.layers
regularizers = keras.regularizers


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
    backbone = lite.imagenet_model(image_size, variant=lite_family.VARIANTS[variant])
    inputs = keras.Input((image_size, image_size, 3))
    features = layers.Dropout(0.2)(backbone(inputs))
    return keras.Model(inputs, probabilities(num_classes)(features), name=f"{variant}_classifier")


# The networks the registry's entries name (modules/registry.py).
NETWORKS = {"arch_1": arch_1, "arch_2": arch_2, "scratch_cnn": scratch_cnn,
            **{variant: functools.partial(efficientnet_lite, variant) for variant in lite_family.VARIANTS}}


def build(name: str, num_classes: int, frozen_blocks: int = 0, frozen_batchnorm: bool = False) -> keras.Model:
    """The registry's model `name`, uncompiled; with `frozen_blocks`, an EfficientNet-Lite's stem
    and first blocks are not trained, and with `frozen_batchnorm` none of its BatchNorm layers
    (modules/efficientnet_lite.freeze)."""
    spec = registry.get_spec(name)
    model = NETWORKS[spec.network](spec.image_size, num_classes)
    if frozen_blocks or frozen_batchnorm:
        lite_backbone = backbone(model)
        if lite_backbone is None:
            raise ValueError(f"model '{name}' has no EfficientNet-Lite " + (
                "blocks to freeze" if frozen_blocks else "BatchNorm layers to keep on ImageNet statistics"))
        lite.freeze(lite_backbone, frozen_blocks, frozen_batchnorm)
    return model


def backbone(model: keras.Model) -> keras.Model | None:
    """The EfficientNet-Lite inside a model from build(), if it has one."""
    return next((layer for layer in model.layers if layer.name in lite_family.VARIANTS), None)
