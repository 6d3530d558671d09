"""The exported SavedModel: two signatures, one answer, class names inside; `predict` on it."""
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from modules import exporter, model as models
from client import pushed_model
from tests import corpus
from tests.conftest import SMALL_IMAGE_SIZE, copy_sample, jpeg_bytes, run_cli_in_process

# Any folder name is a class name: spaces, Unicode, HTML metacharacters.
CLASS_NAMES = ["hat", "long sleeve", "Ünterhemd & <top>"]


@pytest.fixture(scope="module")
def saved_model_dir(tmp_path_factory, transform_output):
    tf.keras.utils.set_random_seed(111)
    model = models.arch_1(SMALL_IMAGE_SIZE, len(CLASS_NAMES))
    directory = tmp_path_factory.mktemp("export") / "model"
    exporter.export_serving_model(model, transform_output, CLASS_NAMES, str(directory))
    # Random images to calibrate the int8 copy on: the test asks it to answer, not to be accurate.
    calibration = [np.random.default_rng(i).random((1, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3), np.float32)
                   for i in range(4)]
    exporter.export_tflite(model, SMALL_IMAGE_SIZE, str(directory), lambda: calibration)
    return directory


def serialized_example(image: bytes) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))})).SerializeToString()


def test_signatures_and_their_input_names(saved_model_dir):
    loaded = tf.saved_model.load(str(saved_model_dir))
    assert set(loaded.signatures) == {"serving_default", "serving_jpeg"}
    assert list(loaded.signatures["serving_default"].structured_input_signature[1]) == ["examples"]
    # TF Serving's REST API base64-decodes inputs whose name ends in _bytes.
    assert list(loaded.signatures["serving_jpeg"].structured_input_signature[1]) == ["image_bytes"]
    for signature in loaded.signatures.values():
        assert set(signature.structured_outputs) == {"probabilities", "class_id", "class_name"}


def test_both_signatures_give_the_same_prediction(saved_model_dir):
    loaded = tf.saved_model.load(str(saved_model_dir))
    images = [jpeg_bytes(color=(200, 30, 30)), jpeg_bytes(color=(10, 10, 240), size=(300, 400))]
    by_example = loaded.signatures["serving_default"](examples=tf.constant([serialized_example(i) for i in images]))
    by_bytes = loaded.signatures["serving_jpeg"](image_bytes=tf.constant(images))
    np.testing.assert_allclose(by_example["probabilities"].numpy(), by_bytes["probabilities"].numpy(), rtol=1e-5)
    np.testing.assert_array_equal(by_example["class_id"].numpy(), by_bytes["class_id"].numpy())
    probabilities = by_bytes["probabilities"].numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert by_bytes["class_id"].numpy().tolist() == probabilities.argmax(axis=1).tolist()
    assert [n.decode() for n in by_bytes["class_name"].numpy()] == [CLASS_NAMES[i] for i in probabilities.argmax(1)]


def test_class_names_file_for_clients(saved_model_dir):
    assert exporter.read_class_names(str(saved_model_dir)) == CLASS_NAMES


def test_the_model_client_keeps_class_names_whole(saved_model_dir, tmp_path):
    """`predict` and `evaluate` answer in the folder names, spaces and all."""
    model = pushed_model.PushedModel(saved_model_dir)
    assert model.class_names == CLASS_NAMES
    assert {name for name, _ in model.top_classes(jpeg_bytes(), k=3)} == set(CLASS_NAMES)
    for name in CLASS_NAMES:
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.jpg").write_bytes(jpeg_bytes())
    scores = pushed_model.score_folder(model, tmp_path)
    assert scores["n"] == 3 and list(scores["per_class"]) == CLASS_NAMES


def test_serving_jpeg_predicts_every_image_that_ingestion_accepts(saved_model_dir, tmp_path):
    root = copy_sample(tmp_path / "data")
    accepted = [c for c in corpus.build(root, tmp_path / "outside") if c.expected == corpus.INGESTED]
    serve = tf.saved_model.load(str(saved_model_dir)).signatures["serving_jpeg"]
    for case in accepted:
        probabilities = serve(image_bytes=tf.constant([(root / case.path).read_bytes()]))["probabilities"].numpy()
        assert probabilities.shape == (1, len(CLASS_NAMES)), case.kind
        np.testing.assert_allclose(probabilities.sum(), 1.0, rtol=1e-5, err_msg=case.kind)


GARBAGE = {
    "empty": lambda: b"",
    "text": lambda: b"shopping list",
    "jpeg-header-then-zeros": lambda: b"\xff\xd8\xff" + bytes(200),
    "png-header-then-zeros": lambda: b"\x89PNG\r\n\x1a\n" + bytes(50),
    "webp": lambda: corpus.encode(Image.new("RGB", (8, 8)), "WEBP"),
    "decompression-bomb": lambda: corpus.encode(Image.new("1", (10_000, 7_000)), "PNG"),
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_fails_its_own_request_and_serving_goes_on(saved_model_dir, garbage):
    serve = tf.saved_model.load(str(saved_model_dir)).signatures["serving_jpeg"]
    good = tf.constant([jpeg_bytes(color=(10, 200, 10))])
    before = serve(image_bytes=good)["probabilities"].numpy()
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(image_bytes=tf.constant([garbage()]))
    np.testing.assert_array_equal(serve(image_bytes=good)["probabilities"].numpy(), before)


def test_predict_answers_every_image_and_lists_each_bad_one(saved_model_dir, tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes())
    newline = tmp_path / "two\nlines.jpg"
    newline.write_bytes(jpeg_bytes())
    text = tmp_path / "text.jpg"
    text.write_text("not a photo")
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    result = run_cli_in_process("predict", "--model", saved_model_dir, text, good, folder, tmp_path / "gone.jpg",
                                newline)
    assert result.returncode == 2
    answered = [line.split(": ")[0] for line in result.stdout.splitlines()]
    assert answered == [str(good), str(tmp_path / "two\\nlines.jpg")]
    assert result.stderr.splitlines() == [
        f"image-pipeline: error: {text}: not an image: content is text",
        f"image-pipeline: error: {folder}: unreadable: Is a directory",
        f"image-pipeline: error: {tmp_path / 'gone.jpg'}: unreadable: No such file or directory"]


def test_a_corrupt_saved_model_is_one_line_naming_the_file(saved_model_dir, tmp_path):
    broken = tmp_path / "model"
    shutil.copytree(saved_model_dir, broken)
    (broken / "saved_model.pb").write_bytes(b"not a protocol buffer")
    image = tmp_path / "good.jpg"
    image.write_bytes(jpeg_bytes())
    result = run_cli_in_process("predict", "--model", broken, image)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"image-pipeline: error: {broken / 'saved_model.pb'}: not a readable SavedModel (")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_the_tflite_model_beside_it_answers_as_the_saved_model_does(saved_model_dir, tmp_path):
    images = [path.read_bytes() for path in sorted(copy_sample(tmp_path / "data", per_class=(2, 0)).rglob("*.jpg"))]
    images.append(jpeg_bytes(color=(10, 10, 240), size=(300, 400)))
    saved, lite = (pushed_model.PushedModel(saved_model_dir, runtime) for runtime in ("saved_model", "tflite"))
    by_saved_model, by_tflite = saved.probabilities(images), lite.probabilities(images)
    np.testing.assert_allclose(by_tflite, by_saved_model, atol=1e-5)
    assert by_tflite.argmax(axis=1).tolist() == by_saved_model.argmax(axis=1).tolist()
    image = tmp_path / "photo.jpg"
    image.write_bytes(images[0])
    result = run_cli_in_process("predict", "--model", saved_model_dir, "--runtime", "tflite", image)
    assert result.returncode == 0 and result.stdout.startswith(f"{image}: "), result.stderr


def test_the_int8_tflite_model_beside_it_is_a_quarter_of_the_bytes_and_answers(saved_model_dir, tmp_path):
    sizes = [(saved_model_dir / name).stat().st_size for name in (exporter.TFLITE_FILE, exporter.TFLITE_INT8_FILE)]
    assert sizes[1] < sizes[0] / 3  # int8 weights in place of float32 ones
    images = [jpeg_bytes(color=(200, 30, 30)), jpeg_bytes(color=(10, 10, 240), size=(300, 400))]
    by_int8 = pushed_model.PushedModel(saved_model_dir, "tflite_int8").probabilities(images)
    assert by_int8.shape == (2, len(CLASS_NAMES)) and np.allclose(by_int8.sum(axis=1), 1, atol=0.02)
    image = tmp_path / "photo.jpg"
    image.write_bytes(images[0])
    result = run_cli_in_process("predict", "--model", saved_model_dir, "--runtime", "tflite_int8", image)
    assert result.returncode == 0 and result.stdout.startswith(f"{image}: "), result.stderr


def test_a_tflite_file_that_is_not_its_saved_models_is_refused_naming_both(saved_model_dir, tmp_path):
    other = tmp_path / "other"
    tf.keras.utils.set_random_seed(7)
    exporter.export_tflite(models.arch_1(SMALL_IMAGE_SIZE, len(CLASS_NAMES)), SMALL_IMAGE_SIZE, str(other))
    swapped = tmp_path / "model"
    shutil.copytree(saved_model_dir, swapped)
    shutil.copy(other / exporter.TFLITE_FILE, swapped / exporter.TFLITE_FILE)
    image = tmp_path / "good.jpg"
    image.write_bytes(jpeg_bytes())
    result = run_cli_in_process("predict", "--model", swapped, "--runtime", "tflite", image)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"image-pipeline: error: {swapped / exporter.TFLITE_FILE}: does not match the SavedModel "
                             f"in {swapped} (its recorded {exporter.tflite_digest_file(exporter.TFLITE_FILE)} "
                             "differs: another version's file?)\n")
    # The int8 file too is checked against its own recorded digest: the float32 one in its place is refused.
    shutil.copy(saved_model_dir / exporter.TFLITE_FILE, swapped / exporter.TFLITE_INT8_FILE)
    result = run_cli_in_process("predict", "--model", swapped, "--runtime", "tflite_int8", image)
    assert result.returncode == 2 and result.stderr.startswith(
        f"image-pipeline: error: {swapped / exporter.TFLITE_INT8_FILE}: does not match the SavedModel in {swapped}")
    (swapped / exporter.TFLITE_FILE).unlink()
    result = run_cli_in_process("evaluate", "--model", swapped, "--runtime", "tflite", "--data", tmp_path)
    assert result.returncode == 2 and "model.tflite: no such file; this model was pushed without it" in result.stderr


def test_evaluate_leaves_the_precision_of_a_class_never_predicted_undefined(saved_model_dir, tmp_path):
    # Two images can be given at most two of the three classes: one class at least is never predicted.
    (tmp_path / "hat").mkdir()
    for index, colour in enumerate([(200, 30, 30), (30, 30, 200)]):
        (tmp_path / "hat" / f"{index}.jpg").write_bytes(jpeg_bytes(colour))
    scores = pushed_model.score_folder(pushed_model.PushedModel(saved_model_dir), tmp_path)
    predicted = np.array(scores["confusion_matrix"]).sum(axis=0)
    precisions = [scores["per_class"][name]["precision"] for name in CLASS_NAMES]
    assert [p is None for p in precisions] == [count == 0 for count in predicted]
    assert None in precisions


def test_a_decision_bias_folded_in_before_export_is_in_both_runtimes(transform_output, tmp_path):
    from modules import trainer
    tf.keras.utils.set_random_seed(111)
    model = models.arch_1(SMALL_IMAGE_SIZE, len(CLASS_NAMES))
    images = [path.read_bytes() for path in sorted(copy_sample(tmp_path / "data", per_class=(1, 0)).rglob("*.jpg"))]
    plain, biased = tmp_path / "plain", tmp_path / "biased"
    exporter.export_serving_model(model, transform_output, CLASS_NAMES, str(plain))
    bias = np.array([-2.0, 1.0, 1.0])
    trainer.fold_decision_bias(model, bias)
    exporter.export_serving_model(model, transform_output, CLASS_NAMES, str(biased))
    exporter.export_tflite(model, SMALL_IMAGE_SIZE, str(biased))
    expected = np.exp(np.log(pushed_model.PushedModel(plain, "saved_model").probabilities(images)) + bias)
    expected /= expected.sum(1, keepdims=True)
    for runtime in ("saved_model", "tflite"):
        np.testing.assert_allclose(pushed_model.PushedModel(biased, runtime).probabilities(images), expected, atol=1e-5)


def test_every_tflite_runtime_names_a_file_the_trainer_writes():
    from modules import values
    assert set(values.RUNTIMES) - {"saved_model"} == set(exporter.TFLITE_FILES)


@pytest.mark.parametrize("quantization", [None, "int8"])
def test_the_quick_conversion_writes_the_bytes_of_converting_the_keras_model(quantization):
    """tflite_model hands the converter a module of the variables, not the Keras model, which the
    converter would save first at the cost of tracing every layer: the file must not change."""
    tf.keras.utils.set_random_seed(111)
    model = models.arch_1(SMALL_IMAGE_SIZE, len(CLASS_NAMES))
    calibration = [np.random.default_rng(i).random((1, SMALL_IMAGE_SIZE, SMALL_IMAGE_SIZE, 3), np.float32)
                   for i in range(4)]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [exporter.tflite_network(model, SMALL_IMAGE_SIZE)], model)
    if quantization:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image] for image in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    assert exporter.tflite_model(model, SMALL_IMAGE_SIZE, quantization, lambda: calibration) == converter.convert()
