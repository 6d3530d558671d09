"""Latency and throughput of a pushed model's `serving_jpeg` signature, and of each TensorFlow Lite
file pushed beside it (model.tflite and model_int8.tflite, as `predict --runtime tflite` and
`--runtime tflite_int8` run them: the same decoding, the network in TensorFlow Lite), next to the
model's arithmetic limit on this machine.

    .venv/bin/python bench/serving_latency.py --model outputs/serving_model/image-classification
    .venv/bin/python bench/serving_latency.py --model DIR --images ../shared/datasets/clothing-dataset-small/validation

One image per request (p50, p99 over --requests calls), then batches of 64 (images per second).
The limit: the model's multiply-adds per image (counted from its Conv2D/Dense layers) over the
peak multiply-add rate of a float32 matmul measured here, with all cores.

Where a request's time goes, each part timed alone over the same images, one a call (p50):
  decode_and_resize  the Transform graph's work: JPEG decoding, resizing to the model's input
                     (modules/preprocessing.decode_and_resize, the code the Transform graph runs)
  network            the registered architecture's forward pass on one decoded image
  network_constants  the same with its weights frozen into the graph as constants, which lets
                     TensorFlow's graph optimiser fold each BatchNorm into the convolution before
                     it: what the leanest graph of this network would save
  network_by_op_kind the frozen network's forward pass split by kind of op, from TensorFlow's own
                     per-op trace (the mean of 20 runs): convolutions (1x1 and the stem's 3x3),
                     depthwise convolutions, and the elementwise rest, with each convolution kind's
                     multiply-adds and the rate it reaches against the matmul peak
  network_xnnpack    the same network converted to TensorFlow Lite and run by its XNNPACK kernels
                     on all cores (the same weights; the bench stops unless the outputs agree
                     within 1e-4): what this CPU can do with this network's convolutions that
                     TensorFlow's own kernels do not. LiteRT runs it, as `predict --runtime
                     tflite` does (modules/exporter.TFLiteNetwork)
  network_xnnpack_tensorflow  the same file in the interpreter bundled with TensorFlow
                     (tf.lite.Interpreter, deprecated in TensorFlow 2.18), which LiteRT replaced
  jpeg_via_xnnpack   one whole request that way: the Transform graph's decoding and resizing in
                     TensorFlow, then the network in XNNPACK (p50 and p99, and over the limit)
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


from pipeline import configs
from modules import settings


def multiply_adds(keras_model, kind: str | None = None) -> int:
    """Multiply-adds of one forward pass: Conv2D, DepthwiseConv2D and Dense layers, in nested
    models too (the rest is negligible); with `kind` ("depthwise", "convolution" or "dense"),
    that kind's alone."""
    import tensorflow as tf
    total = 0
    for layer in keras_model.layers:
        if isinstance(layer, tf.keras.Model):
            total += multiply_adds(layer, kind)
            continue
        if isinstance(layer, tf.keras.layers.DepthwiseConv2D):
            _, height, width, channels_out = layer.output_shape
            kernel_h, kernel_w, _, _ = layer.depthwise_kernel.shape
            layer_kind, count = "depthwise", height * width * channels_out * kernel_h * kernel_w
        elif isinstance(layer, tf.keras.layers.Conv2D):
            _, height, width, channels_out = layer.output_shape
            kernel_h, kernel_w, channels_in, _ = layer.kernel.shape
            layer_kind, count = "convolution", height * width * channels_out * kernel_h * kernel_w * channels_in
        elif isinstance(layer, tf.keras.layers.Dense):
            layer_kind, count = "dense", int(np.prod(layer.kernel.shape))
        else:
            continue
        if kind in (None, layer_kind):
            total += count
    return int(total)


def peak_multiply_adds_per_second(size: int = 2048, repeats: int = 10) -> float:
    import tensorflow as tf
    a = tf.random.uniform((size, size))
    b = tf.random.uniform((size, size))
    tf.linalg.matmul(a, b).numpy()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        tf.linalg.matmul(a, b).numpy()
    return size ** 3 * repeats / (time.perf_counter() - started)


def percentiles_ms(function, inputs) -> dict:
    for item in inputs[:10]:  # warm-up: tracing, thread pools
        function(item)
    times = []
    for item in inputs:
        started = time.perf_counter()
        function(item)
        times.append(time.perf_counter() - started)
    return {f"p{q}": round(1000 * float(np.percentile(times, q)), 2) for q in (50, 99)}


def p50_ms(function, inputs) -> float:
    return percentiles_ms(function, inputs)["p50"]


def op_kind(op_type: str) -> str:
    """The kind of a traced op, by the name its kernel ran under (oneDNN's _MklNative... included)."""
    if "Depthwise" in op_type:
        return "depthwise"
    return "convolution" if "Conv2D" in op_type else "elementwise and the rest"


def network_by_op_kind(constants_function, image, keras_model, runs: int = 20) -> dict:
    """Where the network's forward pass goes: each kind of op's time in TensorFlow's own per-op
    trace of the frozen graph (the mean of `runs`), its multiply-adds and the rate it reaches."""
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(constants_function.graph.as_graph_def(), name="")
    feed = {constants_function.inputs[0].name: image}
    fetch = constants_function.outputs[0].name
    kinds = {kind: 0.0 for kind in ("convolution", "depthwise", "elementwise and the rest")}
    with tf.compat.v1.Session(graph=graph) as session:
        for _ in range(5):  # warm-up: oneDNN builds its primitives on the first calls
            session.run(fetch, feed)
        options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
        for _ in range(runs):
            metadata = tf.compat.v1.RunMetadata()
            session.run(fetch, feed, options=options, run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:  # timeline_label: "name = OpType(inputs)"
                    op_type = node.timeline_label.split(" = ", 1)[-1].split("(", 1)[0]
                    kinds[op_kind(op_type)] += node.all_end_rel_micros / 1000 / runs
    result = {kind: {"ms": round(ms, 2)} for kind, ms in kinds.items()}
    for kind in ("convolution", "depthwise"):
        macs = multiply_adds(keras_model, kind)
        if macs and kinds[kind]:  # a plain CNN (arch_1) has no depthwise convolutions
            result[kind].update(multiply_adds_M=round(macs / 1e6, 1), GMAC_per_s=round(macs / kinds[kind] / 1e6, 1))
    return result


def parts_ms(images: list, keras_model, image_size: int) -> dict:
    """p50 of each part of a request alone: decoding and resizing, then the network, as it is,
    with its weights as constants and on XNNPACK; and a whole request with the network on XNNPACK."""
    import tensorflow as tf
    from tensorflow.python.framework import convert_to_constants
    from modules import exporter, preprocessing
    decode = tf.function(lambda data: preprocessing.decode_and_resize(data, image_size))
    network = exporter.tflite_network(keras_model, image_size)  # the function both runtimes run
    constants = convert_to_constants.convert_variables_to_constants_v2(network)
    content = exporter.tflite_model(keras_model, image_size)
    xnnpack = exporter.TFLiteNetwork(content)
    bundled = exporter.TFLiteNetwork(content, tf.lite.Interpreter)
    decoded = [decode(tf.constant(data))[tf.newaxis] for data in images[:200]]
    difference = max(float(np.abs(xnnpack(image.numpy()) - network(image).numpy()).max()) for image in decoded[:20])
    if difference > 1e-4:
        raise SystemExit(f"XNNPACK's network disagrees with TensorFlow's by {difference:.2g}")
    return {"decode_and_resize": p50_ms(lambda data: decode(tf.constant(data)).numpy(), images[:200]),
            "network": p50_ms(lambda image: network(image).numpy(), decoded),
            "network_constants": p50_ms(lambda image: constants(image)[0].numpy(), decoded),
            "network_xnnpack": p50_ms(lambda image: xnnpack(image.numpy()), decoded),
            "network_xnnpack_tensorflow": p50_ms(lambda image: bundled(image.numpy()), decoded),
            "network_by_op_kind": network_by_op_kind(constants, decoded[0].numpy(), keras_model),
            "xnnpack_largest_difference": difference,
            "jpeg_via_xnnpack": percentiles_ms(lambda data: xnnpack(decode(tf.constant(data))[tf.newaxis].numpy()),
                                               images[:200])}


def main() -> int:
    import tensorflow as tf
    from modules import exporter, model as models, registry
    from client import pushed_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a pushed version directory or serving directory")
    parser.add_argument("--images", type=Path, default=configs.SAMPLE_DATA_ROOT / "validation")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--architecture", default=settings.Training().model_name,
                        help="the registered model the pushed one was trained as, for counting its multiply-adds")
    args = parser.parse_args()

    directory = pushed_model.resolve_model_dir(args.model)
    serve = tf.saved_model.load(str(directory)).signatures["serving_jpeg"]
    images = [p.read_bytes() for p in sorted(args.images.rglob("*.jpg"))]
    requests = [tf.constant([images[index % len(images)]]) for index in range(args.requests)]
    one_image = percentiles_ms(lambda request: serve(image_bytes=request)["class_id"].numpy(), requests)

    batches = [images[i:i + args.batch] for i in range(0, len(images) - args.batch + 1, args.batch)] or [images]
    started = time.perf_counter()
    served = 0
    for batch in batches * max(1, 256 // sum(len(b) for b in batches)):
        serve(image_bytes=tf.constant(batch))["class_id"].numpy()
        served += len(batch)
    throughput = served / (time.perf_counter() - started)

    # Each TensorFlow Lite file pushed with it, as `predict --runtime RUNTIME` runs it: the same
    # request, JPEG in; one runtime after the other, so that no two thread pools contend.
    saved_top = np.concatenate([serve(image_bytes=tf.constant(images[i:i + 32]))["class_id"].numpy()
                                for i in range(0, len(images), 32)])
    lite_requests = [images[index % len(images)] for index in range(args.requests)]
    lite = {}
    for runtime, name in exporter.TFLITE_FILES.items():
        if (directory / name).exists():  # model_int8.tflite: not in versions pushed with --no-int8-tflite
            model = pushed_model.PushedModel(directory, runtime)
            lite[runtime] = {"one_image_ms": percentiles_ms(lambda request: model.probabilities([request]),
                                                            lite_requests),
                             "agrees": float((model.probabilities(images).argmax(axis=1) == saved_top).mean())}

    class_names = exporter.read_class_names(str(directory))
    keras_model = models.build(args.architecture, num_classes=len(class_names))
    macs = multiply_adds(keras_model)
    parts = parts_ms(images, keras_model, registry.get_spec(args.architecture).image_size)
    peak = peak_multiply_adds_per_second()
    limit_ms = 1000 * macs / peak
    print(json.dumps({
        "model": str(directory), "architecture": args.architecture, "images": len(images),
        "one_image_ms": one_image,
        **{f"{runtime}_one_image_ms": figures["one_image_ms"] for runtime, figures in lite.items()},
        **{f"{runtime}_agrees_with_saved_model": figures["agrees"] for runtime, figures in lite.items()},
        f"batch_{args.batch}_images_per_s": round(throughput, 1),
        "one_image_parts_ms": parts,
        "multiply_adds_per_image_M": round(macs / 1e6, 1),
        "peak_matmul_GMAC_per_s": round(peak / 1e9, 1),
        "arithmetic_limit_ms_per_image": round(limit_ms, 2),
        "p50_over_limit": round(one_image["p50"] / limit_ms, 2),
        "jpeg_via_xnnpack_p50_over_limit": round(parts["jpeg_via_xnnpack"]["p50"] / limit_ms, 2),
        **{f"{runtime}_p50_over_limit": round(figures["one_image_ms"]["p50"] / limit_ms, 2)
           for runtime, figures in lite.items()},
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
