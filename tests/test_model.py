"""The model registry builds the notebook's networks as written there."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from modules import model as models, registry, settings, trainer, values

layers = tf.keras.layers


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_arch_2_is_the_notebooks_tuned_cnn():
    model = models.build("arch_2", num_classes=10)
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 32, 64, 128, 256]
    assert all(c.kernel_size == (3, 3) and c.padding == "same" for c in convs)
    assert all(abs(float(c.kernel_regularizer.l2) - 1e-3) < 1e-9 for c in convs)
    assert layer_types(model).count("MaxPooling2D") == 4
    assert layer_types(model).count("BatchNormalization") == 6
    assert layer_types(model)[-6:] == ["GlobalAveragePooling2D", "Dense", "Activation", "BatchNormalization",
                                       "Dropout", "Dense"]
    dropout = next(layer for layer in model.layers if isinstance(layer, layers.Dropout))
    assert dropout.rate == 0.5
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.input_shape == (None, 128, 128, 3)
    assert model.output_shape == (None, 10)


def test_arch_1_is_the_notebooks_plain_cnn():
    model = models.build("arch_1", num_classes=10)
    assert layer_types(model).count("Conv2D") == 5
    assert "BatchNormalization" not in layer_types(model)
    # 5 convs 16..256 (3x3), dense 256, dense 10: the parameter count of the notebook's summary.
    expected = sum((3 * 3 * c_in + 1) * c_out for c_in, c_out in [(3, 16), (16, 32), (32, 64), (64, 128), (128, 256)])
    expected += (256 + 1) * 256 + (256 + 1) * 10
    assert model.count_params() == expected


def test_number_of_classes_is_a_parameter():
    assert models.build("arch_2", num_classes=3).output_shape == (None, 3)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'resnet'.*arch_1, arch_2"):
        registry.get_spec("resnet")


@pytest.mark.parametrize("name, image_size", [("efficientnet_lite0", 224), ("efficientnet_lite1", 240)])
def test_efficientnet_lite_is_the_imagenet_backbone_under_a_new_softmax(name, image_size, tmp_path, monkeypatch):
    from modules import efficientnet_lite, lite_family, torch_weights
    monkeypatch.setenv(efficientnet_lite.CACHE_ENVIRONMENT_VARIABLE, str(tmp_path))
    spec = registry.get_spec(name)
    recipe = spec.recipe
    assert (spec.image_size, recipe.learning_rate, recipe.learning_rate_schedule) == (image_size, 5e-4, "warmup_cosine")
    model = models.build(name, num_classes=10)
    assert model.input_shape == (None, image_size, image_size, 3) and model.output_shape == (None, 10)
    assert model.layers[-1].activation.__name__ == "softmax" and model.layers[-1].dtype == "float32"
    state = torch_weights.load_state_dict(efficientnet_lite.packaged_weights_file(lite_family.VARIANTS[name]))
    backbone = model.get_layer(name)
    for keras_layer, torch_name in (("stem_conv", "_conv_stem.weight"), ("head_conv", "_conv_head.weight")):
        kernel = backbone.get_layer(keras_layer).get_weights()[0]
        assert (kernel == state[torch_name].transpose(2, 3, 1, 0)).all()  # ImageNet's, not a fresh init
    assert all(layer.trainable for layer in backbone.layers)  # fine-tuned whole


def test_frozen_blocks_keep_the_stem_and_first_blocks_as_they_are(tmp_path, monkeypatch):
    from modules import efficientnet_lite
    monkeypatch.setenv(efficientnet_lite.CACHE_ENVIRONMENT_VARIABLE, str(tmp_path))
    monkeypatch.setitem(registry.MODELS, "lite_small", dataclasses.replace(registry.get_spec("efficientnet_lite0"),
                                                                         image_size=64))
    model = models.build("lite_small", num_classes=3, frozen_blocks=2)
    backbone = model.get_layer("efficientnet_lite0")
    frozen = {layer.name for layer in backbone.layers if not layer.trainable}
    assert {"stem_conv", "stem_bn", "block0_depthwise", "block1_expand_conv", "block1_project_bn"} <= frozen
    assert not any(name.startswith(("block2_", "block10_", "head_")) for name in frozen)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in backbone.layers}
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    trainer.trace_without_autograph(model)  # as the Trainer trains it, and a fraction of AutoGraph's tracing time
    images = np.random.default_rng(0).random((8, 64, 64, 3), np.float32)
    model.fit(images, np.arange(8) % 3, epochs=1, batch_size=4, verbose=0)
    for layer in backbone.layers:
        unchanged = all((a == b).all() for a, b in zip(before[layer.name], layer.get_weights()))
        # Frozen: no gradient and BatchNorm's moving statistics untouched; the rest trains.
        assert unchanged == (layer.name in frozen) or not layer.weights, layer.name
    with pytest.raises(ValueError, match="cannot freeze 99 blocks of efficientnet_lite0, which has 16"):
        models.build("lite_small", num_classes=3, frozen_blocks=99)
    with pytest.raises(ValueError, match="model 'arch_1' has no EfficientNet-Lite blocks"):
        models.build("arch_1", num_classes=3, frozen_blocks=1)


def test_frozen_batchnorm_keeps_every_batchnorm_on_imagenet_statistics_and_trains_the_rest(tmp_path, monkeypatch):
    from modules import efficientnet_lite
    monkeypatch.setenv(efficientnet_lite.CACHE_ENVIRONMENT_VARIABLE, str(tmp_path))
    monkeypatch.setitem(registry.MODELS, "lite_small", dataclasses.replace(registry.get_spec("efficientnet_lite0"),
                                                                         image_size=64))
    model = models.build("lite_small", num_classes=3, frozen_blocks=2, frozen_batchnorm=True)
    backbone = model.get_layer("efficientnet_lite0")
    batchnorm = {layer.name for layer in backbone.layers if isinstance(layer, layers.BatchNormalization)}
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in backbone.layers}
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    trainer.trace_without_autograph(model)
    images = np.random.default_rng(0).random((8, 64, 64, 3), np.float32)
    model.fit(images, np.arange(8) % 3, epochs=1, batch_size=4, verbose=0)
    changed = {layer.name for layer in backbone.layers
               if not all((a == b).all() for a, b in zip(before[layer.name], layer.get_weights()))}
    # No BatchNorm moves (scale, offset or moving statistics), frozen block or not; the convolutions
    # after the frozen blocks train.
    assert len(batchnorm) > 40 and not changed & batchnorm
    assert {"block2_expand_conv", "block15_project_conv", "head_conv"} <= changed
    assert not any(name.startswith(("stem_", "block0_", "block1_")) for name in changed)
    with pytest.raises(ValueError, match="model 'arch_1' has no EfficientNet-Lite BatchNorm layers"):
        models.build("arch_1", num_classes=3, frozen_batchnorm=True)
    with pytest.raises(ValueError, match="arch_1 has no ImageNet BatchNorm statistics to keep"):
        settings.Training(model_name="arch_1", recipe=registry.Recipe(frozen_batchnorm=True)).check()


def test_scratch_cnn_is_deeper_and_wider_than_arch_2_and_starts_untrained():
    model = models.build("scratch_cnn", num_classes=10)
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    assert [c.filters for c in convs] == [32, 64, 96, 96, 192, 192, 384]
    assert model.input_shape == (None, 128, 128, 3) and model.output_shape == (None, 10)
    assert model.count_params() > 2 * models.build("arch_2", num_classes=10).count_params()
    assert all(layer.trainable for layer in model.layers)


def test_every_model_declares_a_complete_recipe():
    for name, spec in registry.MODELS.items():
        assert spec.image_size > 0 and spec.recipe.epochs > 0 and 0 < spec.recipe.learning_rate < 1, name
        assert not spec.recipe.unset() and spec.recipe.learning_rate_schedule in values.SCHEDULES, name
    # The notebook's networks keep the notebook's recipe: the baselines.
    for baseline in ("arch_1", "arch_2"):
        spec = registry.get_spec(baseline)
        recipe = spec.recipe
        assert (recipe.learning_rate, recipe.learning_rate_schedule, recipe.epochs, recipe.augment,
                recipe.balance_classes) == (
            1e-3, "reduce_on_plateau", 100, False, False)
    assert settings.Training().model_name in registry.MODELS
