"""EfficientNet-Lite's ImageNet weights, read from the packaged torch files without torch: the
reader refuses code, checks the hash, and each Keras network computes what an independent numpy
forward pass of the same weights computes; on clothing photos it sees ImageNet's clothing classes."""
import os
import pickle

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from modules import efficientnet_lite, lite_family, torch_weights
from pipeline import configs

JEAN = 608  # ImageNet class "jean, blue jean, denim"
# The first block of stages 2, 3, 4 and 6: Lite0 repeats its stages (1, 2, 2, 3, 3, 4, 1) times,
# Lite1 and Lite2 (1, 3, 3, 4, 4, 5, 1) times.
STRIDE_2_BLOCKS = {"efficientnet_lite0": {1, 3, 5, 11}, "efficientnet_lite1": {1, 4, 7, 15},
                   "efficientnet_lite2": {1, 4, 7, 15}}


@pytest.fixture(scope="module")
def state():
    lite0 = lite_family.LITE0
    return torch_weights.load_state_dict(efficientnet_lite.packaged_weights_file(lite0), lite0.weights_sha256)


def test_the_state_dict_is_whole(state):
    parameters = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(state) == 296
    assert sum(v.size for v in parameters.values()) == 4_694_024
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3) and state["_fc.weight"].shape == (1000, 1280)
    assert all(v.dtype == np.float32 for v in parameters.values())


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path):
    copy = tmp_path / "weights.pth"
    data = efficientnet_lite.packaged_weights_file().read_bytes()
    copy.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the last weight changed
    with pytest.raises(torch_weights.WeightsFileError, match="is not the expected"):
        torch_weights.load_state_dict(copy, lite_family.LITE0.weights_sha256)


class _RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_the_reader_refuses_code_in_the_pickle(tmp_path):
    marker, weights = tmp_path / "ran", tmp_path / "evil.pth"
    weights.write_bytes(pickle.dumps(torch_weights.LEGACY_MAGIC) + pickle.dumps(1001) + pickle.dumps({})
                        + pickle.dumps({"x": _RunsACommand(marker)}))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load posix.system"):
        torch_weights.load_state_dict(weights)
    assert not marker.exists()


def reference_logits(state, image: np.ndarray, stride_2_blocks: set) -> np.ndarray:
    """EfficientNet-Lite written out in numpy from the torch weights alone (TensorFlow "same" padding)."""
    def pad_same(x, kernel, stride):
        size = x.shape[0]
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        return np.pad(x, ((total // 2, total - total // 2), (total // 2, total - total // 2), (0, 0)))

    def conv(x, weight, stride=1):  # weight (out, in, k, k)
        k = weight.shape[-1]
        windows = sliding_window_view(pad_same(x, k, stride), (k, k), axis=(0, 1))[::stride, ::stride]
        return np.einsum("hwcij,ocij->hwo", windows, weight, optimize=True)

    def depthwise(x, weight, stride):  # weight (channels, 1, k, k)
        k = weight.shape[-1]
        windows = sliding_window_view(pad_same(x, k, stride), (k, k), axis=(0, 1))[::stride, ::stride]
        return np.einsum("hwcij,cij->hwc", windows, weight[:, 0], optimize=True)

    def batch_norm(x, name):
        scale = state[f"{name}.weight"] / np.sqrt(state[f"{name}.running_var"] + 1e-3)
        return (x - state[f"{name}.running_mean"]) * scale + state[f"{name}.bias"]

    def relu6(x):
        return np.clip(x, 0, 6)

    x = (image.astype(np.float64) * 255 - 127) / 128
    x = relu6(batch_norm(conv(x, state["_conv_stem.weight"], 2), "_bn0"))
    blocks = len({name.split(".")[1] for name in state if name.startswith("_blocks.")})
    for index in range(blocks):
        block, shortcut = f"_blocks.{index}", x
        stride = 2 if index in stride_2_blocks else 1
        if f"{block}._expand_conv.weight" in state:
            x = relu6(batch_norm(conv(x, state[f"{block}._expand_conv.weight"]), f"{block}._bn0"))
        x = relu6(batch_norm(depthwise(x, state[f"{block}._depthwise_conv.weight"], stride), f"{block}._bn1"))
        x = batch_norm(conv(x, state[f"{block}._project_conv.weight"]), f"{block}._bn2")
        if stride == 1 and x.shape == shortcut.shape:
            x = x + shortcut
    x = relu6(batch_norm(conv(x, state["_conv_head.weight"]), "_bn1"))
    return x.mean(axis=(0, 1)) @ state["_fc.weight"].T + state["_fc.bias"]


def clothing_images(class_name: str, size: int, count: int) -> np.ndarray:
    paths = sorted((configs.SAMPLE_DATA_ROOT / "validation" / class_name).glob("*.jpg"))[:count]
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR), np.float32) / 255
                     for p in paths])


@pytest.mark.parametrize("name", sorted(STRIDE_2_BLOCKS))
def test_keras_computes_what_an_independent_forward_pass_computes(name):
    variant = lite_family.VARIANTS[name]
    state = torch_weights.load_state_dict(efficientnet_lite.packaged_weights_file(variant), variant.weights_sha256)
    model = efficientnet_lite.build(96, include_top=True, variant=variant)
    efficientnet_lite.set_torch_weights(model, state, variant)
    images = clothing_images("pants", 96, 2)
    keras_logits = model(images, training=False).numpy()
    for image, logits in zip(images, keras_logits):
        expected = reference_logits(state, image, STRIDE_2_BLOCKS[name])
        np.testing.assert_allclose(logits, expected, atol=2e-3 * np.abs(expected).max())
        assert logits.argmax() == expected.argmax()


def test_imagenet_model_sees_jeans_in_pants_and_caches_its_conversion(tmp_path):
    model = efficientnet_lite.imagenet_model(224, include_top=True, cache_dir=tmp_path)
    logits = model(clothing_images("pants", 224, 8), training=False).numpy()
    # ImageNet has no "pants" class; its "jean" is the top class of 3 of the sample's 8 (the rest:
    # swimming trunks, velvet, ...): a mislaid tensor would give no class of clothing at all.
    assert (logits.argmax(axis=1) == JEAN).sum() >= 3, logits.argmax(axis=1)
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert cached == [f"efficientnet_lite0-{lite_family.LITE0.weights_sha256[:16]}.h5"]  # no partial file
    again = efficientnet_lite.imagenet_model(224, include_top=True, cache_dir=tmp_path)  # from the cache
    for first, second in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(first, second)
    features = efficientnet_lite.imagenet_model(224, cache_dir=tmp_path)
    assert features.output_shape == (None, efficientnet_lite.FEATURES)


def sample_split(split: str, size: int = 224):
    names = sorted(p.name for p in (configs.SAMPLE_DATA_ROOT / split).iterdir())
    images = [clothing_images(name, size, 100) for name in names]
    return np.concatenate(images), np.repeat(np.arange(len(names)), [len(i) for i in images])


@pytest.mark.slow
def test_pretrained_features_separate_the_clothing_classes(tmp_path):
    """Nearest class centroid of the pooled features, fitted on the sample's 240 training images:
    measured 0.69 on its 80 validation images with the ImageNet weights, 0.10 (chance) without."""
    model = efficientnet_lite.imagenet_model(224, cache_dir=tmp_path)
    (train_images, train_labels), (eval_images, eval_labels) = sample_split("train"), sample_split("validation")

    def unit(features):
        return features / np.linalg.norm(features, axis=1, keepdims=True)

    train, evaluated = unit(model.predict(train_images, verbose=0)), unit(model.predict(eval_images, verbose=0))
    centroids = np.stack([train[train_labels == c].mean(axis=0) for c in range(10)])
    assert ((evaluated @ centroids.T).argmax(axis=1) == eval_labels).mean() >= 0.5
