"""`image-pipeline`: run the pipeline, ingest data, predict, evaluate a pushed model, report on a run,
compile for Kubeflow.

Wrong arguments or paths print one line, `image-pipeline: error: ...`, and exit with code 2.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import shlex
import sys
import time
import warnings
from importlib import util
from pathlib import Path
from typing import Optional, Sequence

import modules
from modules import outputs, settings
from pipeline import configs
from modules.errors import InputError

# The defaults every flag below starts from: modules/settings.py's.
DEFAULT_TRAINING, DEFAULT_GATES, DEFAULT_TUNING = settings.Training(), settings.Gates(), settings.Tuning()

PROG = "image-pipeline"
USAGE_ERROR = 2


class UsageError(Exception):
    """A problem with what the user asked for; reported as one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _existing_dir(value: str) -> Path:
    if not Path(value).is_dir():
        raise argparse.ArgumentTypeError(f"{value}: no such directory")
    return Path(value)


def _output_dir(value: str) -> Path:
    reason = outputs.why_unwritable(value, directory=True)
    if reason:
        raise argparse.ArgumentTypeError(f"{value}: {reason}")
    return Path(value)


def _output_file(value: str) -> Path:
    reason = outputs.why_unwritable(value, directory=False)
    if reason:
        raise argparse.ArgumentTypeError(f"{value}: {reason}")
    return Path(value)


def _non_negative_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return number


def _positive_int(value: str) -> int:
    number = _non_negative_int(value)
    if number == 0:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _epochs(value: str) -> int:
    # 0 would push an untrained model; a thousand epochs of the full data is weeks on a laptop.
    number = _non_negative_int(value)
    if not 1 <= number <= settings.MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"{value} is not between 1 and {settings.MAX_EPOCHS}")
    return number


def _parsed_number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number") from None


def _positive_float(value: str) -> float:
    number = _parsed_number(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value} is not above 0")
    return number


def _learning_rate(value: str) -> float:
    # Adam's steps are about the rate in size: above 1 the weights blow up at once.
    number = _positive_float(value)
    if not number <= settings.MAX_LEARNING_RATE:
        raise argparse.ArgumentTypeError(f"{value} is above {settings.MAX_LEARNING_RATE:g}")
    return number


def _fraction(value: str) -> float:
    number = _parsed_number(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return number


def _smoothing(value: str) -> float:
    # At 1 every target is 1 / classes: nothing left to learn.
    number = _parsed_number(value)
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"{value} is not from 0 to below 1")
    return number


def _pipeline_name(value: str) -> str:
    # Kubeflow's rule, and safe as a directory name.
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,127}", value):
        raise argparse.ArgumentTypeError(f"'{value}' must be lower-case letters, digits and '-', starting with "
                                         "a letter or digit")
    return value


def _model_name(value: str) -> str:
    from modules import model as models
    if value not in models.MODELS:
        raise argparse.ArgumentTypeError(f"unknown model '{value}' (known: {', '.join(sorted(models.MODELS))})")
    return value


def _schedule_name(value: str) -> str:
    from modules import learning_rate
    if value not in learning_rate.SCHEDULES:
        raise argparse.ArgumentTypeError(
            f"unknown learning-rate schedule '{value}' (known: {', '.join(learning_rate.SCHEDULES)})")
    return value


# Environment variables that stand in for a flag the command line does not give, and the commands
# they serve: read here, at the edge, and checked as the flag is. compile-kubeflow takes only the
# cluster's and Beam's, so that a shell's EPOCHS does not slip into a compiled spec unseen.
ENVIRONMENT = {
    "PIPELINE_NAME": ("--pipeline-name", ("run",)),
    "MODEL_NAME": ("--model", ("run",)),
    "EPOCHS": ("--epochs", ("run",)),
    "TUNING_TRIALS": ("--tuning-trials", ("run",)),
    "BATCH_SIZE": ("--batch-size", ("run",)),
    "PRECISION": ("--precision", ("run",)),
    "ACCURACY_FLOOR": ("--accuracy-floor", ("run",)),
    "REGRESSION_TOLERANCE": ("--regression-tolerance", ("run",)),
    "CLASS_RECALL_FLOOR": ("--class-recall-floor", ("run",)),
    "IMAGE_PIPELINE_OUTPUT": ("--output-root", ("run", "report")),
    "BEAM_PIPELINE_ARGS": ("--beam-arg", ("run", "ingest", "compile-kubeflow")),
    "KFP_IMAGE": ("--image", ("compile-kubeflow",)),
    "KFP_PIPELINE_ROOT": ("--pipeline-root", ("compile-kubeflow",)),
}


def _apply_environment(commands, environ, command: Optional[str]) -> None:
    """Makes each ENVIRONMENT variable that is set the default of its flag in `command`'s parser."""
    for name, (flag, served) in ENVIRONMENT.items():
        if name not in environ or command not in served:
            continue
        parser, raw = commands.choices[command], environ[name]
        action = next(a for a in parser._actions if flag in a.option_strings)
        try:
            if flag == "--beam-arg":  # an append action would add the flags to a list default
                parser.set_defaults(beam_environment=shlex.split(raw))
                continue
            value = action.type(raw) if action.type else raw
            if action.choices and value not in action.choices:
                raise argparse.ArgumentTypeError(f"'{raw}' is not one of {', '.join(action.choices)}")
        except (argparse.ArgumentTypeError, ValueError) as e:
            raise UsageError(f"environment variable {name}={raw!r}: {e}") from None
        action.default, action.required = value, False


def build_parser(environ=None, command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command; with `command`, that command's flags default to the environment."""
    parser = _Parser(prog=PROG, description=__doc__.split("\n\n")[0].replace("`", ""))
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run the whole pipeline locally, from the image folders to a pushed model")
    run.add_argument("--data-root", type=_existing_dir,
                     help="folder with train/ and validation/ (and optionally test/) class subfolders "
                          "(default: the bundled sample, run with %s)" % configs.SAMPLE_RUN_OVERRIDES)
    run.add_argument("--output-root", type=_output_dir, default=configs.OUTPUT_ROOT,
                     help="where artifacts, metadata and pushed models go (default: %(default)s)")
    run.add_argument("--pipeline-root", type=_output_dir,
                     help="artifacts and ML Metadata (default: OUTPUT_ROOT/pipelines/NAME)")
    run.add_argument("--serving-dir", type=_output_dir,
                     help="push destination (default: OUTPUT_ROOT/serving_model/NAME)")
    _add_pipeline_arguments(run)
    _add_beam_arguments(run)

    ingest = commands.add_parser("ingest", help="convert image folders to TFRecords (the Beam job alone)")
    ingest.add_argument("--data-root", type=_existing_dir, required=True)
    ingest.add_argument("--output", type=_output_dir, required=True)
    _add_beam_arguments(ingest)

    predict = commands.add_parser("predict", help="top classes of images under a pushed model")
    predict.add_argument("--model", required=True, help="a pushed model's version directory or the serving directory")
    predict.add_argument("--top-k", type=_positive_int, default=3)
    # Not checked here: each file is predicted or listed with its reason (_predict).
    predict.add_argument("images", nargs="+", metavar="IMAGE")

    evaluate = commands.add_parser("evaluate", help="score a pushed model on a folder of class subfolders")
    evaluate.add_argument("--model", required=True, help="a pushed model's version directory or the serving directory")
    evaluate.add_argument("--data", type=_existing_dir, required=True, help="folder of class subfolders of images")
    evaluate.add_argument("--json", type=_output_file, help="also write the result to this file")

    report = commands.add_parser("report", help="(re)write the HTML report of a run: the newest, or --run-id")
    report.add_argument("--pipeline-root", type=_existing_dir,
                        help="default: OUTPUT_ROOT/pipelines/NAME with --pipeline-name, else the most recently run "
                             "pipeline under OUTPUT_ROOT/pipelines")
    report.add_argument("--pipeline-name", type=_pipeline_name, help="default: the one recorded in the pipeline root")
    report.add_argument("--output-root", type=Path, default=configs.OUTPUT_ROOT, help="default: %(default)s")
    report.add_argument("--run-id", help="a run id as the run summary prints it (default: the newest run)")
    report.add_argument("--output", type=_output_file, help="default: PIPELINE_ROOT/reports/RUN_ID.html")

    compile_kfp = commands.add_parser(
        "compile-kubeflow", help="compile the pipeline for Kubeflow Pipelines (spec 2.1, offline); takes run's flags")
    compile_kfp.add_argument("--output", type=_output_file, required=True, help="the pipeline JSON to write")
    compile_kfp.add_argument("--pipeline-root", type=_uri, required=True,
                             help="e.g. gs://BUCKET/pipelines (or $KFP_PIPELINE_ROOT)")
    compile_kfp.add_argument("--image", type=_image, required=True,
                             help="container image with this project installed, built from kubeflow/Dockerfile "
                                  "(or $KFP_IMAGE)")
    compile_kfp.add_argument("--data-root", type=_uri, required=True,
                             help="the image folders (train/, validation/[, test/]) as the cluster reads them: "
                                  "gs://... or a path inside the image; read here for the class list unless "
                                  "--class-names is given")
    compile_kfp.add_argument("--class-names", type=_class_names,
                             help="comma-separated class list, in label order (sorted folder names); "
                                  "default: read from DATA_ROOT/train")
    compile_kfp.add_argument("--serving-dir", type=_uri, help="push destination (default: PIPELINE_ROOT/serving_model)")
    _add_pipeline_arguments(compile_kfp)
    _add_beam_arguments(compile_kfp)
    for subparser in commands.choices.values():
        subparser.add_argument("--verbose", action="store_true",
                               help="also print the libraries' logs (TensorFlow, TFX, Beam), not only a line per step")
    _apply_environment(commands, os.environ if environ is None else environ, command)
    return parser


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, training and gate flags that `run` and `compile-kubeflow` share."""
    parser.add_argument("--pipeline-name", type=_pipeline_name, help=f"default: {configs.PIPELINE_NAME}")
    parser.add_argument("--model", type=_model_name, default=DEFAULT_TRAINING.model_name, help="default: %(default)s")
    parser.add_argument("--epochs", type=_epochs,
                        help="the most epochs (default: $EPOCHS, else the model's own; under "
                             "reduce_on_plateau, EarlyStopping may end sooner)")
    parser.add_argument("--learning-rate", type=_learning_rate,
                        help="Adam's, the peak of a warm-up schedule (default: the model's own)")
    parser.add_argument("--learning-rate-schedule", type=_schedule_name, metavar="{reduce_on_plateau,warmup_cosine}",
                        help="the notebook's reduce_on_plateau, or a one-epoch warm-up then a cosine decay to 0 "
                             "(default: the model's own)")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction,
                        help="random flips, rotations and zooms of training images (default: the model's own)")
    parser.add_argument("--balance-classes", action=argparse.BooleanOptionalAction,
                        help="weight the loss so that every class counts equally (default: the model's own)")
    parser.add_argument("--frozen-blocks", type=_non_negative_int,
                        help="keep an EfficientNet-Lite's stem and first N blocks as they are (default: the "
                             "model's own)")
    parser.add_argument("--label-smoothing", type=_smoothing,
                        help="train against targets of 1 - S (+ S / classes) instead of 1 (default: the model's own)")
    parser.add_argument("--tune", action="store_true",
                        help="add a Tuner step: KerasTuner picks the learning rate, augmentation and class "
                             "weighting on a fifth of the training split, and the Trainer uses the best")
    parser.add_argument("--tuning-trials", type=_positive_int, default=DEFAULT_TUNING.trials,
                        help="hyperparameter sets the Tuner tries (default: %(default)s)")
    parser.add_argument("--tuning-epochs", type=_epochs,
                        help="epochs per trial (default: a third of the model's epochs, at least 1)")
    parser.add_argument("--batch-size", type=_positive_int, default=DEFAULT_TRAINING.batch_size,
                        help="default: %(default)s")
    parser.add_argument("--precision", choices=settings.PRECISIONS, default=DEFAULT_TRAINING.precision,
                        help="training math; mixed_bfloat16 is faster only on CPUs with bfloat16 units; the "
                             "exported model is float32 either way (default: %(default)s)")
    parser.add_argument("--distribution", choices=settings.DISTRIBUTIONS, default=DEFAULT_TRAINING.distribution,
                        help="tf.distribute strategy of the Trainer: mirrored over one machine's devices, or "
                             "multi_worker_mirrored over the workers that TF_CONFIG names (docs/kubeflow.md); "
                             "default: %(default)s")
    parser.add_argument("--accuracy-floor", type=_fraction,
                        help=f"blessing needs at least this eval accuracy (default: {DEFAULT_GATES.accuracy_floor})")
    parser.add_argument("--class-recall-floor", type=_fraction,
                        help="blessing needs every class's recall at least this "
                             f"(default: {DEFAULT_GATES.class_recall_floor})")
    parser.add_argument("--regression-tolerance", type=_fraction, default=DEFAULT_GATES.regression_tolerance,
                        help="blessing allows this much accuracy below the model serving now (default: %(default)s)")
    parser.add_argument("--replace-class-list", action="store_true",
                        help="push even if the model serving now classifies other classes, replacing it (default: "
                             "such a push is refused; give other data its own --pipeline-name)")
    parser.add_argument("--no-cache", action="store_true", help="re-execute every component")


def _uri(value: str) -> str:
    if not value.strip() or value != value.strip():
        raise argparse.ArgumentTypeError(f"'{value}' is not a path or URI")
    return value


def _image(value: str) -> str:
    # The stock TFX image lacks this project: an empty name must not fall back to it.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", value):
        raise argparse.ArgumentTypeError(f"'{value}' is not a container image name (e.g. REGISTRY/image-pipeline:1.0)")
    return value


def _class_names(value: str) -> list:
    names = [name.strip() for name in value.split(",")]
    if any(not name for name in names):
        raise argparse.ArgumentTypeError(f"'{value}' has an empty class name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise argparse.ArgumentTypeError(f"'{value}' names class '{duplicates[0]}' more than once")
    if len(names) < 2:
        raise argparse.ArgumentTypeError(f"'{value}' names fewer than 2 classes")
    return names


def beam_args(args) -> list:
    """--beam-arg flags, else $BEAM_PIPELINE_ARGS, else the in-memory DirectRunner."""
    return (args.beam_pipeline_args or getattr(args, "beam_environment", None)
            or list(configs.DEFAULT_BEAM_PIPELINE_ARGS))


def _add_beam_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beam-arg", dest="beam_pipeline_args", action="append", metavar="ARG",
                        help="a Beam pipeline option, repeatable, written --beam-arg=--runner=DataflowRunner; "
                             "replaces $BEAM_PIPELINE_ARGS and the default "
                             f"({' '.join(configs.DEFAULT_BEAM_PIPELINE_ARGS)})")


def pipeline_settings(args, sample: bool = False) -> tuple[settings.Settings, str]:
    """(the run's settings, its pipeline name) from the shared flags: real-data defaults, or the
    sample's smoke profile (configs.SAMPLE_RUN_OVERRIDES); explicit flags always win."""
    defaults = {"epochs": DEFAULT_TRAINING.epochs, "accuracy_floor": DEFAULT_GATES.accuracy_floor,
                "class_recall_floor": DEFAULT_GATES.class_recall_floor, "pipeline_name": configs.PIPELINE_NAME}
    if sample:
        defaults.update({k: v for k, v in configs.SAMPLE_RUN_OVERRIDES.items() if k in defaults})
        logging.info("no --data-root: smoke run on the bundled sample with %s", configs.SAMPLE_RUN_OVERRIDES)
    chosen = {key: default if getattr(args, key) is None else getattr(args, key) for key, default in defaults.items()}
    training = settings.Training(
        model_name=args.model, epochs=chosen["epochs"], learning_rate=args.learning_rate,
        learning_rate_schedule=args.learning_rate_schedule, augment=args.augment,
        balance_classes=args.balance_classes, frozen_blocks=args.frozen_blocks, label_smoothing=args.label_smoothing,
        batch_size=args.batch_size, precision=args.precision, distribution=args.distribution)
    _check_frozen_blocks(training)
    gates = settings.Gates(accuracy_floor=chosen["accuracy_floor"], regression_tolerance=args.regression_tolerance,
                           class_recall_floor=chosen["class_recall_floor"], replace_class_list=args.replace_class_list)
    return settings.Settings(training, gates, _tuning(args, training)), chosen["pipeline_name"]


def _check_frozen_blocks(training: settings.Training) -> None:
    from modules import model as models
    blocks = models.get_spec(training.model_name).freezable_blocks
    if training.frozen_blocks and training.frozen_blocks > blocks:
        raise UsageError(f"argument --frozen-blocks: {training.model_name} has "
                         + (f"only {blocks} blocks" if blocks else "no EfficientNet-Lite blocks to freeze"))


def _tuning(args, training: settings.Training) -> Optional[settings.Tuning]:
    """The Tuner's settings from the flags, or None without --tune."""
    if not args.tune:
        return None
    return settings.Tuning(trials=args.tuning_trials,
                           epochs=args.tuning_epochs or max(1, training.resolved().epochs // 3))


def run_settings(args):
    """LocalRunSettings from `run` flags (the bundled sample's smoke profile without --data-root)."""
    from cli import local
    run, pipeline_name = pipeline_settings(args, sample=args.data_root is None)
    return local.LocalRunSettings(
        data_root=args.data_root or configs.SAMPLE_DATA_ROOT, output_root=args.output_root,
        pipeline_name=pipeline_name, pipeline_root=args.pipeline_root, serving_dir=args.serving_dir,
        settings=run, enable_cache=not args.no_cache, beam_pipeline_args=beam_args(args))


def _run(args) -> int:
    from cli import local
    try:
        summary = local.run(run_settings(args))
    except FloatingPointError as e:  # modules.trainer.TrainingDiverged: the run stopped, nothing pushed
        print(f"{PROG}: error: Trainer: {e}; nothing was pushed", file=sys.stderr)
        return 1
    # A line per step was logged as it ran; --verbose did not print those, so the table comes here.
    print(summary.format(steps=args.verbose))
    if summary.push_refused:
        print(f"{PROG}: error: {summary.push_refused}", file=sys.stderr)
        return 1
    return 0


def _ingest(args) -> int:
    from components.image_example_gen import ingestion, manifest as manifests
    output = ingestion.run(args.data_root, args.output, beam_args(args))
    manifest = manifests.read(output)
    print(json.dumps({"output": str(output), **{k: manifest[k] for k in
                      ("files_found", "files_ingested", "files_rejected", "counts")}}, indent=2))
    return 0


def _predict(args) -> int:
    """A line per image, in order: its top classes, or (on stderr) why it could not be predicted.
    Exit code 2 if any image could not be."""
    from client import pushed_model
    from components.image_example_gen import image_files
    # As ingestion reads them (EXIF rotation applied, clear reasons for what is not an image).
    read = [image_files.read_image_file(image) for image in args.images]
    model = pushed_model.PushedModel(args.model)
    failed = 0
    for image, (reason, data) in zip(args.images, read):
        try:
            if reason:
                raise InputError(reason)
            top = model.top_classes(data, k=args.top_k)
        except InputError as e:
            print(f"{PROG}: error: {_one_line(image)}: {e}", file=sys.stderr)
            failed += 1
            continue
        print(f"{_one_line(image)}: " + ", ".join(f"{name} {probability:.3f}" for name, probability in top))
    return USAGE_ERROR if failed else 0


def _one_line(text: str) -> str:
    """`text` with control characters (a newline in a file name) escaped: one output line per input."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _evaluate(args) -> int:
    from client import pushed_model
    result = pushed_model.score_folder(pushed_model.PushedModel(args.model), args.data)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        outputs.write_text(args.json, text + "\n")
    return 0


def _report(args) -> int:
    from components.run_report import report, run_summary
    root = args.pipeline_root
    if root is None and args.pipeline_name:
        root = args.output_root / "pipelines" / args.pipeline_name
    elif root is None:
        stores = sorted((args.output_root / "pipelines").glob("*/metadata.sqlite"), key=lambda p: p.stat().st_mtime)
        if not stores:
            raise InputError(f"{args.output_root / 'pipelines'}: no pipeline has run here; give --pipeline-root")
        root = stores[-1].parent
    metadata = Path(root) / "metadata.sqlite"
    if not metadata.is_file():
        raise InputError(f"{metadata}: no ML Metadata store; not a pipeline root")
    names = run_summary.pipeline_names(str(metadata))
    name = args.pipeline_name or (names[0] if len(names) == 1 else None)
    if name not in names:
        recorded = ", ".join(names) or "none"
        raise InputError(f"{metadata}: pipeline {name or '?'} not recorded here (recorded: {recorded})")
    try:
        print(report.write_report(root, name, args.run_id, args.output))
    except LookupError as error:
        raise InputError(str(error)) from None
    return 0


def _compile_kubeflow(args) -> int:
    from kubeflow import runner
    from components.image_example_gen import layout as layouts
    from modules import filesystem
    data_root = str(Path(args.data_root).resolve()) if filesystem.is_local(args.data_root) else args.data_root
    if args.class_names:
        class_names, splits = args.class_names, list(layouts.REQUIRED_SPLITS)
    else:  # the folders as ingestion will read them; a bad layout is one line here, not a failed cluster run
        try:
            layout = layouts.scan(data_root)
        except layouts.IngestionError as e:
            if filesystem.is_local(data_root):
                raise
            raise InputError(f"{e}; give --class-names to compile without reading it") from None
        layout.warn_of_missing_classes(data_root)
        class_names, splits = layout.class_names, layout.splits
    run, pipeline_name = pipeline_settings(args)
    print(runner.compile_pipeline(args.output, image=args.image, pipeline_root=args.pipeline_root,
                                  pipeline_name=pipeline_name, data_root=data_root, splits=splits,
                                  class_names=class_names, settings=run, serving_model_dir=args.serving_dir,
                                  beam_pipeline_args=beam_args(args), enable_cache=not args.no_cache))
    return 0


COMMANDS = {"run": _run, "ingest": _ingest, "predict": _predict, "evaluate": _evaluate, "report": _report,
            "compile-kubeflow": _compile_kubeflow}


# The third-party packages whose own warnings the default output leaves out (a regular expression on
# the module a warning is raised in; pytest.ini names the same for the test suite).
LIBRARIES = (r"(tensorflow|tensorflow_\w+|tf_keras|keras|tfx|tfx_bsl|ml_metadata|apache_beam|google|absl|kfp"
             r"|pyarrow|numpy|pandas|matplotlib|jupyter_client|keras_tuner|httplib2|pkg_resources|setuptools)(\.|$)")


class _FirstLineFormatter(logging.Formatter):
    """TFX logs whole protos at INFO; one line per record keeps the progress readable."""

    def format(self, record):
        text = super().format(record)
        if record.exc_info or "\n" not in text:
            return text
        return text.split("\n", 1)[0] + " [...]"


class _StepLines(logging.Filter):
    """Default output: one line per pipeline step, this project's own lines, and errors.

    TFX's LocalDagRunner announces each component ("Component X is running." / "... is finished.");
    a step that logs nothing of its own ends with "step k: X COMPLETE (or CACHED) in s"; this project's
    lines within a step are prefixed with it. Library records below ERROR are dropped (--verbose
    keeps everything).
    """

    def __init__(self):
        super().__init__()
        self._step, self._component, self._cached, self._spoke, self._started = 0, None, False, False, 0.0

    def filter(self, record) -> bool:
        message = record.getMessage()
        if message.startswith("Component ") and message.endswith(" is running."):
            self._step, self._component = self._step + 1, message[len("Component "):-len(" is running.")]
            self._cached, self._spoke, self._started = False, False, time.monotonic()
            return False
        if message.startswith("A cached execution ") and message.endswith(" is used."):
            self._cached = True
            return False
        if message.startswith("Component ") and message.endswith(" is finished."):
            if self._spoke:
                return False
            state = "CACHED" if self._cached else "COMPLETE"
            record.msg, record.args = "step %d: %s %s in %.1f s", (
                self._step, self._component, state, time.monotonic() - self._started)
            return True
        if record.levelno >= logging.ERROR:
            return True
        if not _is_ours(record.pathname):
            return False
        if self._component:
            self._spoke = True
            record.msg, record.args = f"step %d: %s: {message.replace('%', '%%')}", (self._step, self._component)
        return True


@functools.lru_cache(maxsize=None)
def _project_paths() -> tuple:
    """Where this project's modules are, however it is installed (editable, a wheel, the image): the
    folders of its distribution's top-level packages and the files of its top-level modules."""
    names = modules.distribution().read_text("top_level.txt").split()
    specs = [spec for spec in map(util.find_spec, names) if spec and spec.origin]
    return tuple(os.path.dirname(spec.origin) + os.sep if spec.submodule_search_locations is not None
                 else spec.origin for spec in specs)


def _is_ours(path: str) -> bool:
    return path.startswith(_project_paths())


def configure_logging(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_FirstLineFormatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    if not verbose:
        handler.addFilter(_StepLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    if verbose:
        return
    # TFX announces steps through absl's logger at INFO; TensorFlow and Beam set that logger's level
    # again mid-run, which would silence the step lines: here the filter decides, not the level.
    absl = logging.getLogger("absl")
    absl.setLevel(logging.INFO)
    absl.setLevel = lambda level: None
    # What libraries warn about themselves (their deprecations, the Python version), at import or deep
    # inside TFX, is not the user's business; a warning raised in this project's own code still shows.
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category, module=LIBRARIES)


def _quiet_native_logs(argv: Sequence[str]) -> None:
    """TensorFlow's C++ logs (CUDA registration, oneDNN notices) read their level once, when
    TensorFlow loads, which parsing the flags may do: so the flag is looked for in argv itself."""
    if "--verbose" not in argv:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_native_logs(argv)
    configure_logging(verbose="--verbose" in argv)
    try:
        command = argv[0] if argv and argv[0] in COMMANDS else None  # the top level has no other arguments
        args = build_parser(command=command).parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, InputError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
