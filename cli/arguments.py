"""The command line's flags: each command's parser, the environment variables that stand in for
flags, and the run's settings (modules/settings.py) assembled from them. A settings field's flag
is made from the field's own `option(...)` metadata, so that a new setting is one field there.

Wrong values raise UsageError (one line, exit code 2: cli/main.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shlex
from pathlib import Path
from typing import Iterator, Mapping, Optional

from modules import outputs, settings, values
from pipeline import configs

PROG = "image-pipeline"
DESCRIPTION = ("run the pipeline, ingest data, predict, evaluate a pushed model, report on a run, compile for "
               "Kubeflow.")


class UsageError(Exception):
    """A problem with what the user asked for; reported as one line with exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


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


def _checked(read):
    """`read` (text -> value, ValueError saying what is wrong) as an argparse type."""
    def parse(text: str):
        try:
            return read(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    parse.__name__ = read.__name__
    return parse


def _existing_dir(value: str) -> Path:
    if not Path(value).is_dir():
        raise ValueError(f"{value}: no such directory")
    return Path(value)


def _writable(directory: bool):
    def output(value: str) -> Path:
        reason = outputs.why_unwritable(value, directory=directory)
        if reason:
            raise ValueError(f"{value}: {reason}")
        return Path(value)
    return output


def _matching(pattern: str, otherwise: str):
    def read(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(f"'{value}' {otherwise}")
        return value
    return read


# Kubeflow's rule, and safe as a directory name.
_pipeline_name = _matching(r"[a-z0-9][a-z0-9-]{0,127}",
                           "must be lower-case letters, digits and '-', starting with a letter or digit")
# The stock TFX image lacks this project: an empty name must not fall back to it.
_image = _matching(r"[A-Za-z0-9][A-Za-z0-9._/:@-]*", "is not a container image name (e.g. REGISTRY/image-pipeline:1.0)")
_uri = _matching(r"\S([\s\S]*\S)?", "is not a path or URI")  # nothing empty, no space at either end


def _class_names(value: str) -> list:
    names = [name.strip() for name in value.split(",")]
    if any(not name for name in names):
        raise ValueError(f"'{value}' has an empty class name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"'{value}' names class '{duplicates[0]}' more than once")
    if len(names) < 2:
        raise ValueError(f"'{value}' names fewer than 2 classes")
    return names


EXISTING_DIR, OUTPUT_DIR, OUTPUT_FILE = _checked(_existing_dir), _checked(_writable(True)), _checked(_writable(False))
PIPELINE_NAME, URI, IMAGE, CLASS_NAMES = map(_checked, (_pipeline_name, _uri, _image, _class_names))
COUNT = _checked(values.count)
RUNTIME = ("--runtime", dict(choices=values.RUNTIMES, default=values.RUNTIMES[0],
                             help="run the SavedModel, as TF Serving does, or the model.tflite (tflite) or "
                                  "model_int8.tflite (tflite_int8) pushed beside it (default: %(default)s)"))


class _Flags:
    """Adds one command's flags; for the command being run, a flag's environment variable
    (ENVIRONMENT), when set, is read as the flag would be and becomes its default."""

    def __init__(self, parser: argparse.ArgumentParser, name: str, environ: Optional[Mapping[str, str]]):
        self.parser, self.name = parser, name
        self.variables = {flag: variable for variable, (flag, served) in ENVIRONMENT.items()
                          if environ is not None and name in served and variable in environ}
        self.environ = environ

    def add(self, flag: str, options: Optional[dict] = None, **kwargs) -> None:
        kwargs = {**(options or {}), **kwargs}
        variable = self.variables.get(flag)
        if variable:
            kwargs.update(default=self._read(variable, kwargs.get("type")), required=False)
        self.parser.add_argument(flag, **kwargs)

    def add_beam(self) -> None:
        self.parser.add_argument(
            "--beam-arg", dest="beam_pipeline_args", action="append", metavar="ARG",
            help="a Beam pipeline option, repeatable, written --beam-arg=--runner=DataflowRunner; replaces "
                 f"$BEAM_PIPELINE_ARGS and the default ({' '.join(configs.DEFAULT_BEAM_PIPELINE_ARGS)})")
        variable = self.variables.get("--beam-arg")
        # Its own default: an append action would add the flags to a list default.
        self.parser.set_defaults(beam_environment=shlex.split(self.environ[variable]) if variable else None)

    def _read(self, variable: str, parse):
        raw = self.environ[variable]
        try:
            return parse(raw) if parse else raw
        except argparse.ArgumentTypeError as e:
            raise UsageError(f"environment variable {variable}={raw!r}: {e}") from None


def _settings_options() -> Iterator[tuple[type, dataclasses.Field, str]]:
    """(settings class, field, flag) of every settings field that the command line offers."""
    for owner in (settings.Training, settings.Recipe, settings.Gates, settings.Tuning):
        for field in dataclasses.fields(owner):
            if "help" in field.metadata:
                yield owner, field, field.metadata["flag"] or "--" + field.name.replace("_", "-")


def _dest(flag: str) -> str:
    return flag[2:].replace("-", "_")


def _add_settings_flags(flags: _Flags) -> None:
    """A flag for every settings field that has an option (modules/settings.py), defaulting to None
    so that what was given can be told from what was not."""
    for owner, field, flag in _settings_options():
        read, default = field.metadata["read"], field.default
        own = "the model's own" if owner is settings.Recipe else default
        text = field.metadata["help"] + ("" if default is None and owner is not settings.Recipe
                                         else f" (default: {own})")
        if read is None:  # a switch
            action = argparse.BooleanOptionalAction if owner is settings.Recipe else "store_true"
            flags.add(flag, action=action, default=None, help=text)
        else:
            choices = getattr(read, "choices", None)
            flags.add(flag, type=_checked(read), default=None, help=text,
                      metavar="{%s}" % ",".join(choices) if choices else None)


def _add_pipeline_arguments(flags: _Flags) -> None:
    """The flags that `run` and `compile-kubeflow` share: the settings, the pipeline's name, Beam's."""
    flags.add("--pipeline-name", type=PIPELINE_NAME, help=f"default: {configs.PIPELINE_NAME}")
    _add_settings_flags(flags)
    flags.add("--tune", action="store_true",
              help="add a Tuner step: KerasTuner picks the learning rate, augmentation and class weighting on "
                   "a fifth of the training split, and the Trainer uses the best")
    flags.add("--no-cache", action="store_true", help="re-execute every component")
    flags.add_beam()


def build_parser(environ: Optional[Mapping[str, str]] = None, command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every command; with `command`, that command's flags default to the variables
    (ENVIRONMENT) of `environ` (default: the process's)."""
    environ = os.environ if environ is None else environ
    parser = _Parser(prog=PROG, description=f"{PROG}: {DESCRIPTION}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_command(name: str, help: str) -> _Flags:
        return _Flags(commands.add_parser(name, help=help), name, environ if name == command else None)

    run = add_command("run", "run the whole pipeline locally, from the image folders to a pushed model")
    run.add("--data-root", type=EXISTING_DIR,
            help="folder with train/ and validation/ (and optionally test/) class subfolders (default: the "
                 "bundled sample, as a smoke run: pipeline/configs.py, SAMPLE_SETTINGS)")
    run.add("--output-root", type=OUTPUT_DIR, default=configs.OUTPUT_ROOT,
            help="where artifacts, metadata and pushed models go (default: %(default)s)")
    run.add("--pipeline-root", type=OUTPUT_DIR, help="artifacts and ML Metadata (default: OUTPUT_ROOT/pipelines/NAME)")
    run.add("--serving-dir", type=OUTPUT_DIR, help="push destination (default: OUTPUT_ROOT/serving_model/NAME)")
    _add_pipeline_arguments(run)

    ingest = add_command("ingest", "convert image folders to TFRecords (the Beam job alone)")
    ingest.add("--data-root", type=EXISTING_DIR, required=True)
    ingest.add("--output", type=OUTPUT_DIR, required=True)
    ingest.add_beam()

    predict = add_command("predict", "top classes of images under a pushed model")
    predict.add("--model", required=True, help="a pushed model's version directory or the serving directory")
    predict.add("--top-k", type=COUNT, default=3)
    predict.add(*RUNTIME)
    # Not checked here: each file is predicted or listed with its reason (commands.predict).
    predict.add("images", nargs="+", metavar="IMAGE")

    evaluate = add_command("evaluate", "score a pushed model on a folder of class subfolders")
    evaluate.add("--model", required=True, help="a pushed model's version directory or the serving directory")
    evaluate.add("--data", type=EXISTING_DIR, required=True, help="folder of class subfolders of images")
    evaluate.add("--json", type=OUTPUT_FILE, help="also write the result to this file")
    evaluate.add(*RUNTIME)

    report = add_command("report", "(re)write the HTML report of a run: the newest, or --run-id")
    report.add("--pipeline-root", type=EXISTING_DIR,
               help="default: OUTPUT_ROOT/pipelines/NAME with --pipeline-name, else the most recently run pipeline "
                    "under OUTPUT_ROOT/pipelines")
    report.add("--pipeline-name", type=PIPELINE_NAME, help="default: the one recorded in the pipeline root")
    report.add("--output-root", type=Path, default=configs.OUTPUT_ROOT, help="default: %(default)s")
    report.add("--run-id", help="a run id as the run summary prints it (default: the newest run)")
    report.add("--output", type=OUTPUT_FILE, help="default: PIPELINE_ROOT/reports/RUN_ID.html")

    compile_kfp = add_command(
        "compile-kubeflow", "compile the pipeline for Kubeflow Pipelines (spec 2.1, offline); takes run's flags")
    compile_kfp.add("--output", type=OUTPUT_FILE, required=True, help="the pipeline JSON to write")
    compile_kfp.add("--pipeline-root", type=URI, required=True,
                    help="e.g. gs://BUCKET/pipelines (or $KFP_PIPELINE_ROOT)")
    compile_kfp.add("--image", type=IMAGE, required=True,
                    help="container image with this project installed, built from kubeflow/Dockerfile (or $KFP_IMAGE)")
    compile_kfp.add("--data-root", type=URI, required=True,
                    help="the image folders (train/, validation/[, test/]) as the cluster reads them: gs://... or a "
                         "path inside the image; read here for the class list unless --class-names is given")
    compile_kfp.add("--class-names", type=CLASS_NAMES,
                    help="comma-separated class list, in label order (sorted folder names); default: read from "
                         "DATA_ROOT/train")
    compile_kfp.add("--serving-dir", type=URI, help="push destination (default: PIPELINE_ROOT/serving_model)")
    _add_pipeline_arguments(compile_kfp)
    for subparser in commands.choices.values():
        subparser.add_argument("--verbose", action="store_true",
                               help="also print the libraries' logs (TensorFlow, TFX, Beam), not only a line per step")
    return parser


def beam_args(args) -> list:
    """--beam-arg flags, else $BEAM_PIPELINE_ARGS, else the in-memory DirectRunner."""
    return args.beam_pipeline_args or args.beam_environment or list(configs.DEFAULT_BEAM_PIPELINE_ARGS)


def pipeline_settings(args, base: settings.Settings = settings.Settings()) -> settings.Settings:
    """The run's settings: `base` (the defaults, or the sample's profile) with every settings flag
    that was given in place."""
    given = {}
    for owner, field, flag in _settings_options():
        value = getattr(args, _dest(flag))
        if value is not None:
            given.setdefault(owner, {})[field.name] = value
    training = base.training.replaced(**given.get(settings.Training, {}), **given.get(settings.Recipe, {}))
    try:
        training.check()
    except ValueError as e:
        raise UsageError(f"argument {e}") from None
    tuning = None
    if args.tune:
        tuning = dataclasses.replace(base.tuning or settings.Tuning(), **given.get(settings.Tuning, {}))
        tuning = tuning.resolved(training)
    return settings.Settings(training, dataclasses.replace(base.gates, **given.get(settings.Gates, {})), tuning)


def run_settings(args):
    """LocalRunSettings from `run` flags (the bundled sample's profile without --data-root)."""
    from cli import local
    sample = args.data_root is None
    run = pipeline_settings(args, configs.SAMPLE_SETTINGS if sample else settings.Settings())
    return local.LocalRunSettings(
        data_root=args.data_root or configs.SAMPLE_DATA_ROOT, output_root=args.output_root,
        pipeline_name=args.pipeline_name or (configs.SAMPLE_PIPELINE_NAME if sample else configs.PIPELINE_NAME),
        pipeline_root=args.pipeline_root, serving_dir=args.serving_dir, settings=run,
        enable_cache=not args.no_cache, beam_pipeline_args=beam_args(args))
