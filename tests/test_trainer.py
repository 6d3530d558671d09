"""The Trainer's input: TFX's data accessor -> Transform graph -> (image, label), checked labels."""
import dataclasses
import json
import logging

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer import fn_args_utils
from tfx.components.util import tfxio_utils
from tfx.types import artifact_utils, standard_artifacts

from modules import augmentation, features, model as models, registry, settings, trainer
from tests.conftest import SMALL_IMAGE_SIZE, jpeg_bytes

CLASS_NAMES = ["hat", "shoes", "skirt"]
TRAIN_LABEL_COUNTS = np.array([2, 2, 2])  # the examples fixture's
COLOURS = [(250, 0, 0), (0, 250, 0), (0, 0, 250)]  # one per class, to check image-label pairing


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    """An Examples artifact laid out as TFX (and ingestion) lays one out: gzipped TFRecords per split."""
    root = tmp_path_factory.mktemp("examples")
    (root / "Split-train").mkdir()
    with tf.io.TFRecordWriter(str(root / "Split-train" / "data.gz"), options="GZIP") as writer:
        for index in range(6):
            label = index % 3
            writer.write(features.make_example(jpeg_bytes(color=COLOURS[label]), label, CLASS_NAMES[label],
                                               f"train/{CLASS_NAMES[label]}/{index}.jpg").SerializeToString())
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(["train"])
    return artifact


def dataset(examples, transform_output, class_names, **kwargs):
    accessor = fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    pattern = [artifact_utils.get_split_uri([examples], "train") + "/*"]
    return trainer.make_dataset(pattern, accessor, transform_output, class_names, batch_size=4, **kwargs)


def test_batches_of_transformed_images_with_their_labels(examples, transform_output):
    batches = list(dataset(examples, transform_output, CLASS_NAMES))
    assert [images.shape[0] for images, _ in batches] == [4, 2]
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.shape == (6, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3)
    assert labels.tolist() == [0, 1, 2, 0, 1, 2]  # unshuffled: file order
    for image, label in zip(images, labels):
        assert image.mean(axis=(0, 1)).argmax() == label  # each image keeps its own label


def test_shuffling_is_seeded(examples, transform_output):
    def order(seed):
        return np.concatenate([labels.numpy() for _, labels in dataset(examples, transform_output, CLASS_NAMES,
                                                                       shuffle_seed=seed)]).tolist()
    assert order(111) == order(111)
    assert sorted(order(111)) == [0, 0, 1, 1, 2, 2]


def test_class_names_that_do_not_match_the_data_stop_training(examples, transform_output):
    with pytest.raises(tf.errors.InvalidArgumentError, match="do not match the examples"):
        list(dataset(examples, transform_output, ["shoes", "hat", "skirt"]))


def test_the_custom_config_carries_the_settings_resolved_and_whole():
    training = settings.Training(model_name="arch_2", recipe=settings.Recipe(epochs=1), batch_size=4)
    custom_config = settings.to_custom_config(training, CLASS_NAMES, settings.Tuning(trials=2, epochs=1))
    json.dumps(custom_config)  # TFX serialises it as JSON
    back, class_names, tuning = settings.from_custom_config(custom_config)
    assert back == training.resolved() and back.recipe.learning_rate_schedule == "reduce_on_plateau"  # arch_2's own
    assert (class_names, tuning) == (CLASS_NAMES, settings.Tuning(trials=2, epochs=1))
    unresolved = {**custom_config, "training": dataclasses.asdict(training)}
    with pytest.raises(ValueError, match="lacks \\['learning_rate'"):
        settings.from_custom_config(unresolved)
    with pytest.raises(ValueError, match="unknown settings \\['unrelated'\\]"):
        settings.from_custom_config({**custom_config, "training": {**custom_config["training"], "unrelated": 1}})
    with pytest.raises(ValueError, match="class_names"):
        settings.from_custom_config({**custom_config, "class_names": []})


@pytest.fixture
def small_arch_2(monkeypatch):
    """The notebook's arch_2 (BatchNorm, dropout: the random parts) at the fixtures' image size."""
    monkeypatch.setitem(registry.MODELS, "arch_2_small", registry.ModelSpec("arch_2", SMALL_IMAGE_SIZE))
    return "arch_2_small"


@pytest.fixture
def small_lite0(tmp_path, monkeypatch):
    """EfficientNet-Lite0 with its packaged ImageNet weights, at the fixtures' image size."""
    from modules import efficientnet_lite
    monkeypatch.setenv(efficientnet_lite.CACHE_ENVIRONMENT_VARIABLE, str(tmp_path / "cache"))
    spec = registry.get_spec("efficientnet_lite0")
    recipe = dataclasses.replace(registry.NOTEBOOK, learning_rate=spec.recipe.learning_rate)
    monkeypatch.setitem(registry.MODELS, "lite_small", registry.ModelSpec(spec.network, SMALL_IMAGE_SIZE, recipe))
    return spec


def config_for(model_name, epochs=2, precision="float32", learning_rate=1e-3,
               learning_rate_schedule="reduce_on_plateau", augment=False, balance_classes=False):
    return settings.Training(model_name=model_name, batch_size=4, precision=precision, recipe=settings.Recipe(
        epochs=epochs, learning_rate=learning_rate, learning_rate_schedule=learning_rate_schedule, augment=augment,
        balance_classes=balance_classes, frozen_blocks=0))


def train_once(examples, transform_output, model_name, work_dir, label_counts=TRAIN_LABEL_COUNTS, **recipe):
    config = config_for(model_name, **recipe)
    tf.keras.utils.set_random_seed(config.seed)  # as run_fn does before making its datasets
    train_ds = dataset(examples, transform_output, CLASS_NAMES, shuffle_seed=config.seed)
    eval_ds = dataset(examples, transform_output, CLASS_NAMES)
    return trainer.train(config, train_ds, eval_ds, str(work_dir), label_counts)


@pytest.mark.slow
@pytest.mark.parametrize("augment", [False, True])
def test_same_seed_same_data_gives_identical_weights(examples, transform_output, small_arch_2, tmp_path, augment):
    first_model, first_history = train_once(examples, transform_output, small_arch_2, tmp_path / "a", augment=augment)
    second_model, second_history = train_once(examples, transform_output, small_arch_2, tmp_path / "b", augment=augment)
    assert first_history == second_history and len(first_history["loss"]) == 2
    for first, second in zip(first_model.get_weights(), second_model.get_weights()):
        np.testing.assert_array_equal(first, second)


@pytest.mark.slow
def test_augmentation_changes_what_training_sees_and_is_not_exported(examples, transform_output, small_arch_2,
                                                                     tmp_path):
    plain, _ = train_once(examples, transform_output, small_arch_2, tmp_path / "plain")
    augmented, _ = train_once(examples, transform_output, small_arch_2, tmp_path / "augmented", augment=True)
    # The exported model is the registry's network alone: same layers, no random layers.
    assert [type(layer) for layer in augmented.layers] == [type(layer) for layer in plain.layers]
    assert not any(np.array_equal(a, b) for a, b in zip(plain.get_weights(), augmented.get_weights()) if a.ndim == 4)

    views = augmentation.augmentation_layers(seed=111)
    photos = np.random.default_rng(111).random((6, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3), dtype=np.float32)
    np.testing.assert_array_equal(views(photos, training=False), photos)  # inference: untouched
    seen = views(photos, training=True).numpy()
    assert seen.shape == photos.shape
    assert all(not np.allclose(view, photo, atol=0.1) for view, photo in zip(seen, photos))  # each one changed
    # A flip, a turn or a zoom of a plain-colour image keeps its colour: the label still holds.
    plain_colours = np.concatenate([images.numpy() for images, _ in dataset(examples, transform_output, CLASS_NAMES)])
    np.testing.assert_allclose(views(plain_colours, training=True), plain_colours, atol=0.02)


def test_balanced_class_weights_make_every_class_weigh_the_same():
    weights = trainer.balanced_class_weights(np.array([60, 30, 10, 0]))
    assert weights == pytest.approx({0: 100 / 180, 1: 100 / 90, 2: 100 / 30, 3: 0.0})
    assert [weights[i] * n for i, n in enumerate([60, 30, 10])] == pytest.approx([100 / 3] * 3)


def test_a_model_with_a_recipe_for_small_data_carries_both_until_the_data_is_counted(monkeypatch):
    base = registry.get_spec("efficientnet_lite0")
    monkeypatch.setitem(registry.MODELS, "two_recipes", dataclasses.replace(
        base, small_data=registry.Recipe(epochs=9, frozen_blocks=0)))
    given = settings.Training(model_name="two_recipes", recipe=registry.Recipe(learning_rate=1e-3))
    resolved = given.resolved()
    assert resolved.recipe == registry.Recipe(learning_rate=1e-3).over(base.recipe)
    assert resolved.small_data_recipe == dataclasses.replace(resolved.recipe, epochs=9, frozen_blocks=0)
    assert resolved.resolved() == resolved  # resolving twice keeps both
    back, _, _ = settings.from_custom_config(settings.to_custom_config(given, CLASS_NAMES))
    assert back == resolved
    small, large = registry.DataProfile(images=10, small_images=6), registry.DataProfile(images=2000, small_images=5)
    assert back.for_data(small) == dataclasses.replace(resolved, recipe=resolved.small_data_recipe,
                                                       small_data_recipe=None)
    assert back.for_data(large) == dataclasses.replace(resolved, small_data_recipe=None)
    # A given value holds in both recipes: before resolving (a flag) and after (the Tuner's best).
    assert settings.Training(model_name="two_recipes", recipe=registry.Recipe(epochs=3)).resolved() \
        .for_data(small).recipe.epochs == 3
    assert back.replaced(learning_rate=2e-3).for_data(small).recipe.learning_rate == 2e-3
    # Given every field the rule sets, the model's two recipes are one.
    both = settings.Training(model_name="two_recipes", recipe=registry.Recipe(epochs=9, frozen_blocks=0))
    assert both.resolved().small_data_recipe is None
    assert settings.Training(model_name="efficientnet_lite0").resolved().small_data_recipe is None  # has one


def test_labels_are_counted_from_the_examples(examples, transform_output):
    accessor = fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    pattern = [artifact_utils.get_split_uri([examples], "train") + "/*"]
    counts = trainer.count_labels(pattern, accessor, transform_output.raw_metadata.schema, num_classes=4)
    assert counts.tolist() == [2, 2, 2, 0]


@pytest.mark.slow
def test_class_weights_change_training_only_when_asked(examples, transform_output, small_arch_2, tmp_path):
    # As if hats were rare (they weigh 4 times the others); as many examples in all as there are,
    # since the counts also give the steps of an epoch.
    skewed = np.array([1, 1, 4])
    _, unweighted = train_once(examples, transform_output, small_arch_2, tmp_path / "a", epochs=1)
    _, ignored = train_once(examples, transform_output, small_arch_2, tmp_path / "b", epochs=1, label_counts=skewed)
    _, weighted = train_once(examples, transform_output, small_arch_2, tmp_path / "c", epochs=1, label_counts=skewed,
                             balance_classes=True)
    assert ignored == unweighted
    assert weighted["loss"] != unweighted["loss"]
    assert weighted["val_loss"] != unweighted["val_loss"]  # the weights moved differently


def test_warmup_cosine_sets_the_rate_of_every_step(examples, transform_output, small_arch_2, tmp_path):
    peak = 1e-3
    _, history = train_once(examples, transform_output, small_arch_2, tmp_path, epochs=3, learning_rate=peak,
                            learning_rate_schedule="warmup_cosine")
    # 6 examples in batches of 4: 2 steps per epoch, the first epoch's warming up. The history
    # holds the rate of each epoch's last step: the peak, then a quarter and three quarters down
    # the cosine.
    assert history["lr"] == pytest.approx([peak, peak * (1 + np.cos(np.pi / 4)) / 2,
                                           peak * (1 + np.cos(3 * np.pi / 4)) / 2])


@pytest.mark.parametrize("schedule, stops_early", [("reduce_on_plateau", True), ("warmup_cosine", False)])
def test_only_the_notebooks_schedule_stops_early(tmp_path, schedule, stops_early):
    # A cosine schedule runs its length: stopping it early would skip its low-rate epochs.
    callbacks = trainer.make_callbacks(config_for("arch_2", epochs=100, learning_rate_schedule=schedule),
                                       str(tmp_path / "best"), str(tmp_path), steps=96)
    kinds = {type(callback) for callback in callbacks}
    assert (tf.keras.callbacks.EarlyStopping in kinds) == stops_early
    assert tf.keras.callbacks.ModelCheckpoint in kinds and tf.keras.callbacks.TensorBoard in kinds


def test_a_loss_that_is_not_a_number_stops_training_with_one_clear_error(examples, transform_output, small_arch_2,
                                                                        tmp_path):
    # An absurd rate (the CLI refuses it) blows the weights up within a step or two.
    diverged = (r"training diverged: the loss is (nan|inf) at epoch 1, batch \d+; try a lower --learning-rate "
                r"\(this run's: 1e\+30\)")
    with pytest.raises(trainer.TrainingDiverged, match=diverged):
        train_once(examples, transform_output, small_arch_2, tmp_path, epochs=3, learning_rate=1e30)


def test_zero_epochs_exports_the_untrained_model(examples, transform_output, small_arch_2, tmp_path):
    model, history = train_once(examples, transform_output, small_arch_2, tmp_path, epochs=0)
    assert history == {}
    assert model.predict(np.zeros((1, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3)), verbose=0).shape == (1, 3)


def test_bfloat16_training_exports_a_float32_model(examples, transform_output, small_arch_2, tmp_path):
    model, history = train_once(examples, transform_output, small_arch_2, tmp_path, precision="mixed_bfloat16")
    assert len(history["loss"]) == 2
    assert tf.keras.mixed_precision.global_policy().name == "float32"  # restored for what runs next
    assert {layer.compute_dtype for layer in model.layers} == {"float32"}
    assert {w.dtype for w in model.get_weights()} == {np.dtype("float32")}
    images = np.concatenate([images.numpy() for images, _ in dataset(examples, transform_output, CLASS_NAMES)])
    probabilities = model.predict(images, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_the_float32_copy_keeps_the_trained_weights(small_arch_2):
    config = config_for(small_arch_2, epochs=0, precision="mixed_bfloat16")
    tf.keras.mixed_precision.set_global_policy(config.precision)
    trained = models.build(small_arch_2, num_classes=3)
    assert trained.layers[0].compute_dtype == "bfloat16"
    served = trainer.served_copy(trained, config, num_classes=3)
    assert served.layers[0].compute_dtype == "float32"
    for before, after in zip(trained.get_weights(), served.get_weights()):
        np.testing.assert_array_equal(before, after)
    images = np.random.default_rng(111).random((4, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3), dtype=np.float32)
    # The same function up to bfloat16 rounding.
    np.testing.assert_allclose(served(images, training=False), trained(images, training=False), atol=0.05)


@pytest.mark.slow
def test_fine_tuning_starts_from_the_imagenet_weights_and_moves_them_a_little(
        examples, transform_output, small_lite0, tmp_path):
    from modules import efficientnet_lite, torch_weights
    spec = small_lite0
    config = config_for("lite_small", epochs=1, learning_rate=spec.recipe.learning_rate,
                        learning_rate_schedule=spec.recipe.learning_rate_schedule, augment=True)
    train_ds = dataset(examples, transform_output, CLASS_NAMES, shuffle_seed=config.seed)
    model, history = trainer.train(config, train_ds, dataset(examples, transform_output, CLASS_NAMES), str(tmp_path),
                                   TRAIN_LABEL_COUNTS)
    assert len(history["loss"]) == 1
    imagenet = torch_weights.load_state_dict(efficientnet_lite.packaged_weights_file())
    backbone = model.get_layer("efficientnet_lite0")

    def change(keras_layer, torch_name):
        tuned = backbone.get_layer(keras_layer).get_weights()[0].transpose(3, 2, 0, 1)
        return np.abs(tuned - imagenet[torch_name]).max() / np.abs(imagenet[torch_name]).max()

    # Trained, first layer to last, but still ImageNet's filters.
    assert 0 < change("stem_conv", "_conv_stem.weight") < 0.05
    assert 0 < change("head_conv", "_conv_head.weight") < 0.05


@pytest.mark.slow
@pytest.mark.usefixtures("small_lite0")
def test_steps_traced_without_autograph_train_the_same_weights_as_keras_own(examples, transform_output):
    # As the default model trains: its stem frozen, behind the augmentation layers.
    config = config_for("lite_small", augment=True).replaced(frozen_blocks=3)
    images, labels = next(iter(dataset(examples, transform_output, CLASS_NAMES)))
    tf.config.experimental.enable_op_determinism()  # as trainer.train trains

    def fit(keras_own_steps: bool):
        tf.keras.utils.set_random_seed(config.seed)
        model, exported = trainer.compiled_model(config, len(CLASS_NAMES))
        if keras_own_steps:  # Keras' steps, traced with AutoGraph
            model.make_train_function(force=True)
            model.make_test_function(force=True)
        history = model.fit(images, labels, batch_size=2, epochs=2, validation_data=(images, labels), verbose=0)
        return model, exported.get_weights(), history.history

    ours, our_weights, our_history = fit(keras_own_steps=False)
    keras_own, keras_weights, keras_history = fit(keras_own_steps=True)
    assert not ours.train_function._autograph and keras_own.train_function._autograph
    assert our_history == keras_history and len(our_history["val_loss"]) == 2
    for our, theirs in zip(our_weights, keras_weights):
        np.testing.assert_array_equal(our, theirs)


def test_label_smoothing_moves_the_targets_off_one_and_zero():
    assert trainer.crossentropy(3, 0.0) == "sparse_categorical_crossentropy"  # the notebook's
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], np.float32)
    labels = np.array([0, 1])
    targets = np.array([[0.9 + 0.1 / 3, 0.1 / 3, 0.1 / 3], [0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3]])
    expected = -(targets * np.log(probabilities)).sum(axis=1)
    loss = trainer.crossentropy(3, 0.1)(tf.constant(labels), tf.constant(probabilities)).numpy()
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_a_file_cache_gives_the_same_images_and_a_seeded_order(examples, transform_output, tmp_path):
    def batches(**kwargs):
        return [(images.numpy(), labels.numpy()) for images, labels in dataset(examples, transform_output, CLASS_NAMES,
                                                                                **kwargs)]
    decoded, cached = batches(), batches(cache=str(tmp_path / "unshuffled"))
    assert len(decoded) == len(cached)
    for (images, labels), (cached_images, cached_labels) in zip(decoded, cached):
        np.testing.assert_array_equal(images, cached_images)
        np.testing.assert_array_equal(labels, cached_labels)
    assert list(tmp_path.glob("unshuffled*.index"))  # the images came from files
    orders = [np.concatenate([labels for _, labels in batches(cache=str(tmp_path / name), shuffle_seed=111)]).tolist()
              for name in ("first", "second")]
    assert orders[0] == orders[1] and sorted(orders[0]) == [0, 0, 1, 1, 2, 2]


def test_a_cache_that_cannot_be_written_is_one_warning_and_leaves_no_file(examples, transform_output, tmp_path,
                                                                          caplog):
    import resource
    import signal
    from modules import image_cache
    folder = tmp_path / "cache"
    folder.mkdir()
    cached = dataset(examples, transform_output, CLASS_NAMES, cache=str(folder / "train"))
    # A full disk, as the writer meets it: writes past a size fail (EFBIG) instead of ending the process.
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (8192, hard))
    try:
        filled = image_cache.fill([cached], str(folder))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert filled is False
    assert list(folder.iterdir()) == []
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.getMessage().startswith("trainer:")]
    assert len(warnings) == 1 and warnings[0].startswith(f"trainer: writing the decoded images to {folder} failed (")
    assert warnings[0].endswith("; File too large): decoding them every epoch instead")


def test_no_room_for_the_cache_means_decoding_every_epoch(tmp_path, monkeypatch, caplog):
    import shutil
    from modules import image_cache
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(image_cache.tempfile, "tempdir", None)  # read TMPDIR again
    abandoned = tmp_path / f"{image_cache.PREFIX}999999999-x"  # a killed run's: no such process
    abandoned.mkdir()
    with image_cache.folder(needed_bytes=1000) as folder:
        assert folder is not None and folder.startswith(str(tmp_path / image_cache.PREFIX))
    assert list(tmp_path.iterdir()) == []  # its own removed on the way out, the abandoned one first
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 500, 500))
    with image_cache.folder(needed_bytes=1000) as folder:
        assert folder is None
    assert any("decoding them every epoch instead" in r.getMessage() for r in caplog.records)


def write_examples(root, sizes) -> standard_artifacts.Examples:
    """A train split of one example per entry of `sizes` (the original_size property; None: no properties)."""
    (root / "Split-train").mkdir(parents=True)
    with tf.io.TFRecordWriter(str(root / "Split-train" / "data.gz"), options="GZIP") as writer:
        for index, size in enumerate(sizes):
            label = index % 3
            properties = None if size is None else {features.SIZE_KEY: size, features.COLOUR_KEY: "rgb",
                                                    features.BRIGHTNESS_KEY: "normal",
                                                    features.ASPECT_KEY: "square", features.NEAR_COPY_KEY: "no"}
            writer.write(features.make_example(jpeg_bytes(color=COLOURS[label]), label, CLASS_NAMES[label],
                                               f"train/{CLASS_NAMES[label]}/{index}.jpg", properties
                                               ).SerializeToString())
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(["train"])
    return artifact


@pytest.mark.parametrize("sizes, small", [
    ([features.SMALL_SIZE] * 4 + ["256-511 px"] * 2, 4),
    ([features.SMALL_SIZE] * 3 + ["128-255 px"] * 3, 3),
    ([None] * 6, 0),  # another ExampleGen's examples, without the property: none counts as small
])
def test_the_training_split_is_profiled_by_its_originals_sizes(tmp_path, transform_output, sizes, small):
    examples = write_examples(tmp_path, sizes)
    accessor = fn_args_utils.DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=None, data_view_decode_fn=None)
    pattern = [artifact_utils.get_split_uri([examples], "train") + "/*"]
    counts, profile = trainer.tally(pattern, accessor, transform_output.raw_metadata.schema, num_classes=3)
    assert counts.tolist() == [2, 2, 2]
    assert profile == registry.DataProfile(images=6, small_images=small)


@pytest.mark.parametrize("images, small_images, small", [
    (2000, 1001, True), (2000, 1000, False),  # more than half under 128 px
    (registry.FEW_IMAGES - 1, 0, True), (registry.FEW_IMAGES, 0, False),  # few images, whatever their size
])
def test_small_data_is_mostly_small_pictures_or_few_images(images, small_images, small):
    profile = registry.DataProfile(images=images, small_images=small_images)
    assert profile.small == small
    assert profile.describe(features.SMALL_SIZE) == (
        f"{'small' if small else 'larger'} data: {images} training images (under {registry.FEW_IMAGES} is small), "
        f"{small_images} of them under 128 px (over half is small)")


def test_a_shipped_decision_bias_is_taken_only_for_its_own_classes_model_and_recipe(tmp_path, monkeypatch):
    from modules import decision_bias
    recipe = dataclasses.asdict(settings.Training().resolved().recipe)
    (tmp_path / "some_data.json").write_text(json.dumps({
        "class_names": CLASS_NAMES, "bias": [0.5, -0.25, -0.25], "model_name": "efficientnet_lite1", "recipe": recipe}))
    monkeypatch.setattr(decision_bias, "FOLDER", tmp_path)
    found = decision_bias.shipped(CLASS_NAMES, "efficientnet_lite1", recipe)
    assert found == decision_bias.DecisionBias((0.5, -0.25, -0.25), "modules/decision_biases/some_data.json")
    assert decision_bias.shipped(CLASS_NAMES[::-1], "efficientnet_lite1", recipe) is None
    assert decision_bias.shipped(CLASS_NAMES, "efficientnet_lite0", recipe) is None
    assert decision_bias.shipped(CLASS_NAMES, "efficientnet_lite1", {**recipe, "epochs": 1}) is None


def test_the_decision_bias_shipped_for_the_clothing_is_the_recipe_with_batchnorm_trained():
    """A bias is fitted on one recipe's predictions. The default recipe (BatchNorm on ImageNet's
    statistics) ships none: fitted on its out-of-fold predictions, a bias lost accuracy
    (docs/recipe_cv.md). The one fitted for the recipe before it, BatchNorm trained, is still taken
    by a run of that recipe (--no-frozen-batchnorm)."""
    from modules import decision_bias
    clothing = ["dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"]
    default = settings.Training().resolved()
    assert default.recipe.frozen_batchnorm
    assert decision_bias.shipped(clothing, default.model_name, dataclasses.asdict(default.recipe)) is None
    trained = default.replaced(frozen_batchnorm=False)
    found = decision_bias.shipped(clothing, trained.model_name, dataclasses.asdict(trained.recipe))
    assert found is not None and len(found.bias) == len(clothing) and abs(sum(found.bias)) < 1e-3


def test_folding_a_decision_bias_adds_it_to_the_logits():
    tf.keras.utils.set_random_seed(111)
    model = models.arch_1(SMALL_IMAGE_SIZE, 3)
    images = np.random.default_rng(111).random((4, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3), dtype=np.float32)
    before = model.predict_on_batch(images)
    bias = np.array([1.0, -0.5, -0.5])
    trainer.fold_decision_bias(model, bias)
    expected = np.exp(np.log(before) + bias)
    np.testing.assert_allclose(model.predict_on_batch(images), expected / expected.sum(1, keepdims=True), rtol=1e-4)
    with pytest.raises(ValueError, match="is not a softmax"):
        trainer.fold_decision_bias(tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3)]), bias)
