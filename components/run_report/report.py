"""One self-contained HTML file per pipeline run, built from the run's artifacts in ML Metadata:
what data went in, how training went, how the model did overall and per class, every quality gate
with its value and threshold, why it was or was not pushed, and where everything came from.

    image-pipeline report [--pipeline-root DIR] [--run-id ID] [--output FILE]

Figures are PNGs embedded as data: URIs, so the file opens anywhere with no network.
"""
from __future__ import annotations

import base64
import collections.abc
import dataclasses
import html
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Optional

import numpy as np

import modules
from components import ids
from components.image_example_gen import duplicates, manifest as manifests
from components.run_report import evaluation_results, run_summary
from modules import exporter, features, filesystem, outputs

REPORTS_DIR = "reports"
GRID_SIZE = 15         # the notebook's 5x3 prediction grid
MISTAKES_SHOWN = 8
SAMPLES_PER_CLASS = 5
# Which eval images the prediction grid shows: fixed, so that reports of two runs show the same images.
GRID_SEED = 111
DUPLICATE_PAIRS_SHOWN = 8
DUPLICATE_ROWS = 100
THUMBNAIL = 160        # pixels, longest side, of images drawn in figures
PREDICTION_CHUNK = 64  # eval records read and predicted at a time


class Thumbnails(collections.abc.Sequence):
    """Images drawn small (THUMBNAIL pixels), kept as JPEG, a few KB each: a large eval split's fit in
    memory. Indexing gives the HxWx3 uint8 array."""

    def __init__(self):
        self._encoded = []

    def add(self, image_bytes: bytes) -> None:
        from PIL import Image
        out = io.BytesIO()
        Image.fromarray(_thumbnail(image_bytes)).save(out, format="JPEG", quality=90)
        self._encoded.append(out.getvalue())

    def __len__(self):
        return len(self._encoded)

    def __getitem__(self, index):
        from PIL import Image
        return np.asarray(Image.open(io.BytesIO(self._encoded[index])))


@dataclasses.dataclass
class EvalExamples:
    images: collections.abc.Sequence  # thumbnails, each HxWx3 uint8
    labels: np.ndarray
    filenames: list
    probabilities: np.ndarray  # the candidate model's, [n, classes]
    # Its TensorFlow Lite files' probabilities, by file name, for each file it has.
    tflite_probabilities: dict = dataclasses.field(default_factory=dict)


def default_output(pipeline_root: str | os.PathLike, run_id: str) -> Path:
    return Path(pipeline_root) / REPORTS_DIR / f"{run_id.replace(':', '-')}.html"


def find_pipeline(output_root: Path, pipeline_root: Optional[Path] = None,
                  pipeline_name: Optional[str] = None) -> tuple[Path, str]:
    """(pipeline root, pipeline name) of the run to report on: the root given, else
    OUTPUT_ROOT/pipelines/NAME with a name, else the most recently run pipeline under
    OUTPUT_ROOT/pipelines; the name given, else the only one recorded there. LookupError says why not."""
    root = pipeline_root
    if root is None and pipeline_name:
        root = output_root / "pipelines" / pipeline_name
    elif root is None:
        stores = sorted((output_root / "pipelines").glob("*/metadata.sqlite"), key=lambda p: p.stat().st_mtime)
        if not stores:
            raise LookupError(f"{output_root / 'pipelines'}: no pipeline has run here; give --pipeline-root")
        root = stores[-1].parent
    metadata = Path(root) / "metadata.sqlite"
    if not metadata.is_file():
        raise LookupError(f"{metadata}: no ML Metadata store; not a pipeline root")
    names = run_summary.pipeline_names(str(metadata))
    name = pipeline_name or (names[0] if len(names) == 1 else None)
    if name not in names:
        recorded = ", ".join(names) or "none"
        raise LookupError(f"{metadata}: pipeline {name or '?'} not recorded here (recorded: {recorded})")
    return Path(root), name


def write_report(pipeline_root: str | os.PathLike, pipeline_name: str, run_id: Optional[str] = None,
                 output: Optional[str | os.PathLike] = None) -> Path:
    """Writes the report of `run_id` (default: the newest run) and returns its path.

    Written whole or not at all (modules/outputs.py), so a reader never sees half a report.
    """
    run = run_summary.find_run(str(Path(pipeline_root) / "metadata.sqlite"), pipeline_name, run_id)
    output = Path(output) if output else default_output(pipeline_root, run.run_id)
    return outputs.write_text(output, render(run, pipeline_name))


def render(run: run_summary.RunRecord, pipeline_name: str) -> str:
    from components.run_report import figures
    summary = run_summary.summarize(run)
    class_names = run_summary.class_names(run)
    examples = run.output(ids.IMAGE_EXAMPLE_GEN, "examples")
    manifest = manifests.read(examples.uri) if examples else None
    model = run.output(ids.TRAINER, "model")
    evaluation = evaluation_results.of_run(run)
    eval_examples = eval_predictions(run)

    sections = [_verdict_section(summary, evaluation)]
    if evaluation:
        sections.append(_metrics_section(evaluation, eval_examples, figures))
    if eval_examples is not None:
        sections.append(_predictions_section(eval_examples, class_names, figures))
    if model:
        sections.append(_training_section(run, figures))
    if manifest:
        sections.append(_data_section(run, manifest, examples.uri, figures))
    sections.append(_lineage_section(run, summary, manifest, model))
    title = f"{pipeline_name}: run {run.run_id}"
    return _page(title, sections)


# ---- sections ------------------------------------------------------------------------------------

def _verdict_section(summary: run_summary.RunSummary, evaluation) -> str:
    verdict = {None: ("NOT EVALUATED", "neutral"), True: ("BLESSED", "pass"), False: ("NOT BLESSED", "fail")}
    label, css = verdict[summary.blessed]
    if summary.failed_steps:
        label += f" ({', '.join(summary.failed_steps)} failed)"
    pushed = (f"pushed to <code>{_escape(summary.pushed_destination)}</code>" if summary.pushed_destination
              else "nothing pushed")
    body = [f'<p class="verdict {css}" id="verdict">{label}: {pushed}</p>']
    if evaluation:
        rows = [[g.metric, g.kind, _formatted(g.value), g.threshold,
                 {True: "pass", False: "FAIL", None: "skipped"}[g.passed]] for g in evaluation.gates]
        body.append(_table(["gate", "kind", "value", "threshold", "result"], rows, "gates",
                           row_classes=[{True: "pass", False: "fail", None: ""}[g.passed] for g in evaluation.gates]))
        if evaluation.failed_gates:
            body.append("<p>Not pushed because: " + "; ".join(
                _escape(f"{g.metric} ({g.kind}) = {_formatted(g.value)}, needs {g.threshold}")
                for g in evaluation.failed_gates) + ".</p>")
    return _section("Verdict and quality gates", "verdict-section", "".join(body))


def _metrics_section(evaluation, eval_examples: Optional[EvalExamples], figures) -> str:
    names = ["example_count", "sparse_categorical_accuracy", evaluation_results.MACRO_F1]
    rows = []
    for name in names:
        value, before = evaluation.overall.get(name), evaluation.baseline.get(name)
        change = value - before if value is not None and before is not None else None
        digits = 0 if name == "example_count" else 4  # a count, not a rate
        rows.append([name, _formatted(value, digits), _formatted(before, digits), _formatted(change, digits)])
    if eval_examples is not None:
        ece = evaluation_results.expected_calibration_error(eval_examples.probabilities, eval_examples.labels)
        rows.append(["expected calibration error (top label, 10 bins)", _formatted(ece), "", ""])
        for name, lite in eval_examples.tflite_probabilities.items():
            rows += [[f"accuracy of {name} (TensorFlow Lite)", _formatted(float(np.mean(
                         lite.argmax(axis=1) == eval_examples.labels))), "", ""],
                     [f"{name}'s top class = the SavedModel's", _formatted(float(np.mean(
                         lite.argmax(axis=1) == eval_examples.probabilities.argmax(axis=1)))), "", ""]]
    overall = _table(["metric", "candidate", "baseline (serving now)", "change"], rows, "overall-metrics")
    class_rows = [[name, _formatted(m.get("precision")), _formatted(m.get("recall")), _formatted(m.get("f1_score")),
                   _formatted(m.get("example_count"), digits=0)] for name, m in evaluation.per_class.items()]
    per_class = _table(["class", "precision", "recall", "F1", "eval examples"], class_rows, "per-class-metrics")
    parts = ["<h3>Overall (eval split)</h3>", overall,
             "<h3>Per class</h3>",
             "<p>Precision, recall and F1 of the arg-max prediction (TFMA). A precision of - means the class "
             "was never predicted.</p>", per_class,
             _figure(figures.precision_recall(evaluation.per_class), "precision and recall per class"),
             _figure(figures.confusion_matrix(evaluation.confusion_matrix, evaluation.class_names), "confusion matrix")]
    if evaluation.slices:
        slice_rows = [[feature, value, _formatted(m.get("example_count"), digits=0), _formatted(m.get("accuracy"))]
                      for (feature, value), m in evaluation.slices.items()]
        parts += ["<h3>By image property</h3>",
                  "<p>Accuracy on the eval images of each property of their original file, recorded at ingestion "
                  "(no gate uses them): where the model fails beyond the class.</p>",
                  _table(["property", "value", "eval examples", "accuracy"], slice_rows, "slice-metrics")]
    if eval_examples is not None:
        parts.append(_figure(figures.reliability(eval_examples.probabilities, eval_examples.labels), "calibration"))
    return _section("Evaluation", "evaluation", "".join(parts))


def _predictions_section(examples: EvalExamples, class_names: list, figures) -> str:
    rng = np.random.default_rng(GRID_SEED)
    shown = rng.choice(len(examples.images), size=min(GRID_SIZE, len(examples.images)), replace=False)
    grid = figures.prediction_grid([examples.images[i] for i in shown], examples.probabilities[shown],
                                   examples.labels[shown], class_names)
    predicted = examples.probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != examples.labels)
    worst = wrong[np.argsort(-examples.probabilities[wrong].max(axis=1))][:MISTAKES_SHOWN]
    drawn = "every eval image" if len(shown) == len(examples.images) else f"{len(shown)} eval images drawn"
    parts = [f"<p>{drawn.capitalize()} ({len(shown)}, in an order drawn with seed {GRID_SEED}): title green when the "
             "prediction is right, red when wrong; the bars are the class probabilities, the true class outlined in "
             "blue.</p>",
             _figure(grid, "prediction grid")]
    if len(worst):
        parts += ["<h3>Most confident mistakes</h3>",
                  _figure(figures.mistakes([examples.images[i] for i in worst], examples.probabilities[worst],
                                           examples.labels[worst], class_names), "most confident mistakes"),
                  _table(["file", "true", "predicted", "probability"],
                         [[examples.filenames[i], class_names[examples.labels[i]], class_names[predicted[i]],
                           _formatted(examples.probabilities[i].max())] for i in worst], "mistakes")]
    return _section("Predictions", "predictions", "".join(parts))


def _training_section(run: run_summary.RunRecord, figures) -> str:
    model_run = run.output(ids.TRAINER, "model_run")
    history_file = f"{model_run.uri}/history.json" if model_run else None
    if not history_file or not filesystem.gfile().exists(history_file):
        return _section("Training", "training", "<p>No training history recorded.</p>")
    record = json.loads(_read_text(history_file))
    # Runs before 2026-12 had class_names in it; runs before 2026-12-04 21:00 had the recipe's fields flat;
    # runs before 2026-12-05 13:00 called small_data_recipe small_images_recipe.
    config = {k: v for k, v in record["config"].items()
              if k not in ("class_names", "recipe", "small_data_recipe", "small_images_recipe")}
    config.update(record["config"].get("recipe", {}))
    if record.get("recipe_choice"):
        config["recipe chosen"] = record["recipe_choice"]
    if record.get("decision_bias"):
        bias = record["decision_bias"]
        config["decision bias"] = f"{bias['source']}: " + ", ".join(f"{n} {b:+.2f}" for n, b in bias["bias"].items())
    history = record["history"]
    rows = [[k, str(v)] for k, v in config.items()] + [["epochs run", str(len(history.get("loss", [])))]]
    if history.get("val_accuracy"):
        rows.append(["best val_accuracy", _formatted(max(history["val_accuracy"]))])
    return _section("Training", "training", _table(["setting", "value"], rows, "training-config")
                    + (_figure(figures.training_curves(history), "training curves") if history else ""))


def _data_section(run: run_summary.RunRecord, manifest: dict, examples_uri: str, figures) -> str:
    counts = manifest["counts"]
    names = manifest["class_names"]
    count_rows = [[name] + [str(counts[split][name]) for split in counts] for name in names]
    count_rows.append(["total"] + [str(sum(counts[split].values())) for split in counts])
    parts = [f"<p>{manifest['files_found']} files found = {manifest['files_ingested']} ingested + "
             f"{manifest['files_rejected']} rejected.</p>",
             _table(["class"] + list(counts), count_rows, "class-counts"),
             _figure(figures.class_distribution(counts), "class distribution"),
             _figure(figures.sample_grid(_samples_per_class(examples_uri, names)), "sample images per class")]
    parts.append(_duplicates(manifest, examples_uri, figures))
    rejected = _read_rejected(examples_uri)
    parts.append(f"<h3>Rejected files ({len(rejected)})</h3>")
    parts.append(_table(["file", "reason"], rejected, "rejected") if rejected else "<p>None.</p>")
    parts.append("<h3>Statistics and schema anomalies (StatisticsGen, ExampleValidator)</h3>")
    parts.append(_statistics_table(run))
    parts.append(_anomalies(run))
    return _section("Data", "data", "".join(parts))


def _lineage_section(run, summary, manifest: Optional[dict], model) -> str:
    import tensorflow as tf
    import tfx
    rows = [["run id", run.run_id],
            ["data (manifest content hash)", manifest["content_hash"] if manifest else "-"],
            ["model artifact", f"{model.uri} (ML Metadata id {model.id})" if model else "-"],
            ["pushed model version", Path(summary.pushed_destination).name if summary.pushed_destination else "-"],
            ["code version", _code_version()],
            ["TFX / TensorFlow", f"{tfx.__version__} / {tf.__version__}"]]
    lineage = _table(["what", "value"], rows, "lineage-table")
    if not summary.components:  # written inside the run (components/run_report): no step has ended yet
        return _section("Lineage", "lineage", lineage + "<p>The steps' states and wall times are in the run "
                        "summary; <code>image-pipeline report</code> adds them here.</p>")
    steps = [[c.component_id, c.state, f"{c.seconds:.1f}"] for c in summary.components]
    return _section("Lineage", "lineage", lineage + "<h3>Steps</h3>" + _table(["component", "state", "seconds"],
                                                                            steps, "steps"))


# ---- reading artifacts ---------------------------------------------------------------------------

def eval_predictions(run: run_summary.RunRecord, model_run: Optional[run_summary.RunRecord] = None
                     ) -> Optional[EvalExamples]:
    """The eval split of `run` as `model_run`'s model (default: the run's own) predicts it, or None when
    either is missing: the notebooks' error analysis and run-over-run comparison."""
    model = (model_run or run).output(ids.TRAINER, "model")
    examples = run.output(ids.IMAGE_EXAMPLE_GEN, "examples")
    if model is None or examples is None:
        return None
    return _predict_eval_split(model.uri, examples.uri, len(run_summary.class_names(run)))


def _predict_eval_split(model_uri: str, examples_uri: str, num_classes: int) -> Optional[EvalExamples]:
    """The candidate model's probabilities on the eval split, through its serving_default signature,
    and each of its TensorFlow Lite files'. Read a chunk of records at a time, and each image kept
    only as a small encoded thumbnail: the memory this takes does not grow with the images' bytes."""
    import tensorflow as tf
    serve = tf.saved_model.load(f"{model_uri}/Format-Serving").signatures["serving_default"]
    tflite = {}
    for name in exporter.TFLITE_FILES.values():
        try:
            tflite[name] = exporter.load_tflite(f"{model_uri}/Format-Serving", name)
        except ValueError:  # a model trained before the Trainer wrote this file, or told not to
            pass
    probabilities, lite, labels, filenames, thumbnails = [], {name: [] for name in tflite}, [], [], Thumbnails()
    for chunk in _chunks(_split_records(examples_uri, "eval"), PREDICTION_CHUNK):
        probabilities.append(serve(examples=tf.constant(chunk))["probabilities"].numpy()[:, :num_classes])
        parsed = [tf.train.Example.FromString(r) for r in chunk]
        images = [_feature(e, features.IMAGE_KEY) for e in parsed]
        for name, predict in tflite.items():
            lite[name].append(predict(images))
        labels += [_feature(e, features.LABEL_KEY) for e in parsed]
        filenames += [_feature(e, features.FILENAME_KEY).decode() for e in parsed]
        for image in images:
            thumbnails.add(image)
    if not probabilities:
        return None
    return EvalExamples(images=thumbnails, labels=np.array(labels), filenames=filenames,
                        probabilities=np.concatenate(probabilities),
                        tflite_probabilities={name: np.concatenate(rows) for name, rows in lite.items()})


def _chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _duplicates(manifest: dict, examples_uri: str, figures) -> str:
    """Exact and near copies that ingestion found (components/image_example_gen/duplicates.py has the policy)."""
    found = manifest.get("duplicates")
    if found is None:  # ingested before duplicates were looked for
        return ""
    exact, near = found["exact"], found["near"]
    parts = [f"<h3>Duplicates ({duplicates.describe(*duplicates.totals(found))})</h3>"]
    if not exact and not near:
        return parts[0] + "<p>None: no two images share their bytes or look alike.</p>"
    parts.append("<p>Exact copies under two classes of a split are rejected, as are extra copies in one class; "
                 "copies across splits are kept (they inflate that split's metrics); near copies (at most "
                 f"{found['near_distance']} of 256 bits of a difference hash apart) are reported only.</p>")
    rows = [[item["kind"], "same bytes", ", ".join(item["paths"])] for item in exact[:DUPLICATE_ROWS]]
    rows += [[item["kind"], f"{item['distance']} bits apart", ", ".join(item["paths"])]
             for item in near[:DUPLICATE_ROWS]]
    if sum(duplicates.totals(found)) > len(rows):
        parts.append(f"<p>The worst {DUPLICATE_ROWS} of each are listed here; manifest.json lists up to "
                     f"{duplicates.LISTED} of each.</p>")
    parts.append(_table(["kind", "how alike", "files"], rows, "duplicates"))
    shown = near[:DUPLICATE_PAIRS_SHOWN]
    thumbnails = _thumbnails_by_filename(examples_uri, manifest["splits"], {p for item in shown for p in item["paths"]})
    pairs = [(thumbnails[a], thumbnails[b], f"{item['kind']}, {item['distance']} bits")
             for item in shown for a, b in [item["paths"]] if a in thumbnails and b in thumbnails]
    if pairs:
        parts.append(_figure(figures.image_pairs(pairs), "near copies"))
    return "".join(parts)


def _thumbnails_by_filename(examples_uri: str, splits: list, wanted: set) -> dict:
    import tensorflow as tf
    found = {}
    for split in splits:
        for record in _split_records(examples_uri, split):
            example = tf.train.Example.FromString(record)
            name = _feature(example, features.FILENAME_KEY).decode()
            if name in wanted:
                found[name] = _thumbnail(_feature(example, features.IMAGE_KEY))
                if len(found) == len(wanted):
                    return found
    return found


def _samples_per_class(examples_uri: str, class_names: list) -> dict:
    import tensorflow as tf
    samples = {name: [] for name in class_names}
    for record in _split_records(examples_uri, "train"):
        example = tf.train.Example.FromString(record)
        chosen = samples[_feature(example, features.LABEL_NAME_KEY).decode()]
        if len(chosen) < SAMPLES_PER_CLASS:
            chosen.append(_thumbnail(_feature(example, features.IMAGE_KEY)))
        if all(len(s) == SAMPLES_PER_CLASS for s in samples.values()):
            break
    return samples


def _split_records(examples_uri: str, split: str):
    """The serialized tf.Examples of one ingested split, in file order."""
    import tensorflow as tf
    files = sorted(tf.io.gfile.glob(f"{examples_uri}/Split-{split}/*"))
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP") if files else []:
        yield record.numpy()


def _read_rejected(examples_uri: str) -> list:
    import csv
    path = f"{examples_uri}/{manifests.REJECTED}"
    if not filesystem.gfile().exists(path):
        return []
    return [row for row in csv.reader(io.StringIO(_read_text(path)))][1:]


def _statistics_table(run) -> str:
    import tensorflow_data_validation as tfdv
    statistics = run.output(ids.STATISTICS_GEN, "statistics")
    if not statistics:
        return "<p>No statistics recorded.</p>"
    rows = []
    for stats_file in sorted(filesystem.gfile().glob(f"{statistics.uri}/Split-*/FeatureStats.pb")):
        dataset = tfdv.load_stats_binary(stats_file).datasets[0]
        image = next((f for f in dataset.features if f.path.step == [features.IMAGE_KEY]), None)
        sizes = (f"{image.bytes_stats.min_num_bytes / 1024:.0f} / {image.bytes_stats.avg_num_bytes / 1024:.0f} / "
                 f"{image.bytes_stats.max_num_bytes / 1024:.0f}" if image and image.HasField("bytes_stats") else "-")
        rows.append([_split_name(stats_file), str(dataset.num_examples), sizes])
    return _table(["split", "examples", "image KB (min / mean / max)"], rows, "statistics")


def _anomalies(run) -> str:
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    anomalies = run.output(ids.EXAMPLE_VALIDATOR, "anomalies")
    if not anomalies:
        return "<p>No validation recorded.</p>"
    rows = []
    for diff_file in sorted(filesystem.gfile().glob(f"{anomalies.uri}/Split-*/SchemaDiff.pb")):
        with filesystem.gfile().GFile(diff_file, "rb") as f:
            found = anomalies_pb2.Anomalies.FromString(f.read())
        split = _split_name(diff_file)
        rows += [[split, feature, info.short_description or info.description]
                 for feature, info in found.anomaly_info.items()]
        if found.HasField("dataset_anomaly_info"):
            rows.append([split, "(dataset)", found.dataset_anomaly_info.description])
    return _table(["split", "feature", "anomaly"], rows, "anomalies") if rows else \
        '<p id="anomalies">No anomalies: every split matches schema/schema.pbtxt.</p>'


def _read_text(path: str) -> str:
    with filesystem.gfile().GFile(path) as f:
        return f.read()


def _split_name(split_file: str) -> str:
    """Split-<name>/<file> -> <name>."""
    return split_file.rsplit("/", 2)[-2].removeprefix("Split-")


def _feature(example, key):
    value = example.features.feature[key]
    return value.int64_list.value[0] if value.int64_list.value else value.bytes_list.value[0]


def _thumbnail(image_bytes: bytes) -> np.ndarray:
    from PIL import Image
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    return np.asarray(image)


def _code_version() -> str:
    """The installed distribution's version, and for an editable install its checkout's git commit."""
    distribution = modules.distribution()
    installed = f"{modules.DISTRIBUTION} {distribution.version}"
    origin = json.loads(distribution.read_text("direct_url.json") or "{}")  # PEP 610
    if not origin.get("dir_info", {}).get("editable"):
        return installed
    checkout = origin["url"].removeprefix("file://")
    try:
        commit = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", checkout, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{installed}, editable from {checkout} (not a git checkout)"
    return f"git {commit}" + (" with uncommitted changes" if dirty else "")


# ---- HTML ----------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1f2328; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; font-size: 14px; overflow-wrap: anywhere; }
th { background: #f6f8fa; }
tr.fail td, .verdict.fail { background: #ffebe9; }
tr.pass td:last-child, .verdict.pass { background: #dafbe1; }
.verdict { font-size: 20px; font-weight: bold; padding: 8px; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
code { background: #f6f8fa; padding: 1px 4px; }
"""

# Marks each figure once the browser has decoded it, so a headless check can read it from the DOM.
SCRIPT = """
document.querySelectorAll("img").forEach(function (img) {
  function mark() { img.dataset.rendered = img.naturalWidth + "x" + img.naturalHeight; }
  if (img.complete) { mark(); } else { img.addEventListener("load", mark); }
});
console.log("report ready: " + document.images.length + " figures");
"""


def _page(title: str, sections: list) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{_escape(title)}</h1>{''.join(sections)}"
            f"<script>{SCRIPT}</script></body></html>\n")


def _section(title: str, anchor: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{_escape(title)}</h2>{body}</section>'


def _table(header: list, rows: list, table_id: str, row_classes: Optional[list] = None) -> str:
    head = "".join(f"<th>{_escape(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{row_classes[i] if row_classes else ""}">'
        + "".join(f"<td>{_escape(c)}</td>" for c in row) + "</tr>"
        for i, row in enumerate(rows))
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(png: bytes, alt: str) -> str:
    return f'<img alt="{_escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _formatted(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if digits else f"{value:,.0f}"


def _escape(text) -> str:
    return html.escape(str(text))
