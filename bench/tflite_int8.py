"""An int8 TensorFlow Lite model of a pushed version's network against the float32 model.tflite
pushed with it: accuracy, recall per class, agreement and latency on a folder of labelled images.

    .venv/bin/python bench/tflite_int8.py --model DIR/serving_model/image-classification \
        --images ../shared/datasets/clothing-dataset-small/validation \
        --calibration ../shared/datasets/clothing-dataset-small/train [--calibration-images 200] [--results FILE]

The int8 model is TensorFlow Lite's full-integer post-training quantization (weights and
activations int8, float input and output, so it is a drop-in for model.tflite:
modules/exporter.tflite_model), made from the pushed SavedModel's network and calibrated on
--calibration-images images drawn with a fixed seed from --calibration: training images, never the
ones it is scored on. --quantization dynamic instead quantizes the weights alone (the activations
at run time, no calibration). Both models see the same decoded images
(modules/preprocessing.decode_and_resize, the Transform graph's code) and run on XNNPACK with every
core; latency is the network's call (the image in, the invoke, the probabilities out:
modules/exporter.TFLiteNetwork), p50 over the images. One model and one split;
bench/recipe_cv_cpu.py --int8 scores int8 across cross-validation folds.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

SEED = 111


def main() -> int:
    import tf_keras

    from client import pushed_model
    from modules import exporter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a pushed version directory or serving directory")
    parser.add_argument("--images", type=Path, required=True, help="class subfolders of images to score")
    parser.add_argument("--calibration", type=Path, help="class subfolders of training images (for int8)")
    parser.add_argument("--calibration-images", type=int, default=200)
    parser.add_argument("--quantization", choices=("int8", "dynamic"), default="int8",
                        help="int8: weights and activations (calibrated); dynamic: int8 weights alone")
    parser.add_argument("--results", type=Path, help="JSON file to write the figures to")
    args = parser.parse_args()
    if args.quantization == "int8" and not args.calibration:
        parser.error("--calibration is needed for int8")
    quantization = args.quantization

    directory = pushed_model.resolve_model_dir(args.model)
    network = tf_keras.models.load_model(str(directory), compile=False)
    size = int(network.input_shape[1])
    class_names = exporter.read_class_names(str(directory))
    decode = exporter.tflite_input(size)

    calibration = []
    if quantization == "int8":
        pool = sorted(args.calibration.rglob("*.jpg"))
        calibration = [pool[i] for i in np.random.default_rng(SEED).choice(len(pool), args.calibration_images,
                                                                            replace=False)]
    started = time.perf_counter()
    quantized = exporter.tflite_model(network, size, quantization,
                                      lambda: (decode(path.read_bytes()) for path in calibration))
    convert_s = time.perf_counter() - started
    runtimes = {"float32": exporter.TFLiteNetwork((directory / exporter.TFLITE_FILE).read_bytes()),
                quantization: exporter.TFLiteNetwork(quantized)}

    images = sorted(p for p in args.images.rglob("*.jpg") if p.parent.name in class_names)
    labels = np.array([class_names.index(p.parent.name) for p in images])
    predicted = {name: [] for name in runtimes}
    seconds = {name: [] for name in runtimes}
    for path in images:
        pixels = decode(path.read_bytes())
        for name, network in runtimes.items():
            started = time.perf_counter()
            predicted[name].append(network(pixels))
            seconds[name].append(time.perf_counter() - started)
    top = {name: np.argmax(p, axis=1) for name, p in predicted.items()}
    result = {
        "model": str(directory), "images": len(images), "calibration_images": len(calibration),
        "convert_s": round(convert_s, 1),
        "bytes": {"float32": (directory / exporter.TFLITE_FILE).stat().st_size, quantization: len(quantized)},
        "accuracy": {name: round(float(np.mean(t == labels)), 4) for name, t in top.items()},
        "recall": {name: {c: round(float(np.mean(t[labels == i] == i)), 3) for i, c in enumerate(class_names)
                          if np.any(labels == i)} for name, t in top.items()},
        "top_class_agreement": round(float(np.mean(top[quantization] == top["float32"])), 4),
        "max_probability_difference": round(float(np.max(np.abs(np.array(predicted[quantization])
                                                                - np.array(predicted["float32"])))), 4),
        "network_p50_ms": {name: round(1000 * float(np.median(s)), 2) for name, s in seconds.items()},
    }
    print(json.dumps(result, indent=2))
    if args.results:
        args.results.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
