"""What each command does with its parsed flags (cli/arguments.py): a thin call into the pipeline,
the client or the report, and what it prints. Each returns the exit code."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from cli import arguments, logs
from cli.arguments import PROG
from modules import outputs
from modules.errors import InputError
from pipeline import configs

USAGE_ERROR = 2


def run(args) -> int:
    from cli import local
    settings = arguments.run_settings(args)
    if args.data_root is None:
        logging.info("no --data-root: a smoke run on the bundled sample (pipeline/configs.py, SAMPLE_SETTINGS)")
    try:
        with logs.step_lines(str(settings.metadata_path)):
            summary = local.run(settings)
    except FloatingPointError as e:  # modules.trainer.TrainingDiverged: the run stopped, nothing pushed
        print(f"{PROG}: error: Trainer: {e}; nothing was pushed", file=sys.stderr)
        return 1
    # A line per step was logged as it ran; --verbose did not print those, so the table comes here.
    print(summary.format(steps=args.verbose))
    if summary.push_refused:
        print(f"{PROG}: error: {summary.push_refused}", file=sys.stderr)
        return 1
    return 0


def ingest(args) -> int:
    from components.image_example_gen import ingestion, manifest as manifests
    output = ingestion.run(args.data_root, args.output, arguments.beam_args(args))
    manifest = manifests.read(output)
    print(json.dumps({"output": str(output), **{k: manifest[k] for k in
                      ("files_found", "files_ingested", "files_rejected", "counts")}}, indent=2))
    return 0


def predict(args) -> int:
    """A line per image, in order: its top classes, or (on stderr) why it could not be predicted.
    Exit code 2 if any image could not be."""
    from client import pushed_model
    from components.image_example_gen import image_files
    # As ingestion reads them (EXIF rotation applied, clear reasons for what is not an image).
    read = [image_files.read_image_file(image) for image in args.images]
    model = pushed_model.PushedModel(args.model, args.runtime)
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


def evaluate(args) -> int:
    from client import pushed_model
    result = pushed_model.score_folder(pushed_model.PushedModel(args.model, args.runtime), args.data)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        outputs.write_text(args.json, text + "\n")
    return 0


def report(args) -> int:
    from components.run_report import report as reports
    try:
        root, name = reports.find_pipeline(args.output_root, args.pipeline_root, args.pipeline_name)
        print(reports.write_report(root, name, args.run_id, args.output))
    except LookupError as error:
        raise InputError(str(error)) from None
    return 0


def compile_kubeflow(args) -> int:
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
    print(runner.compile_pipeline(args.output, image=args.image, pipeline_root=args.pipeline_root,
                                  pipeline_name=args.pipeline_name or configs.PIPELINE_NAME, data_root=data_root,
                                  splits=splits, class_names=class_names, settings=arguments.pipeline_settings(args),
                                  serving_model_dir=args.serving_dir, beam_pipeline_args=arguments.beam_args(args),
                                  enable_cache=not args.no_cache))
    return 0


COMMANDS = {"run": run, "ingest": ingest, "predict": predict, "evaluate": evaluate, "report": report,
            "compile-kubeflow": compile_kubeflow}
