"""Compiles the pipeline for Kubeflow Pipelines (KFP v2 IR) with KubeflowV2DagRunner, offline.

The container image must have this project installed (setup.py): components reference the
model code by module path, so compiling uploads nothing.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

from pipeline import configs

# Where the image keeps the repository's schema/ folder.
IMAGE_SCHEMA_DIR = "/pipeline/schema"


def compile_pipeline(output_file: str | os.PathLike, pipeline_root: str, image: str,
                     examples_uri: Optional[str] = None,
                     class_names: Sequence[str] = configs.CLOTHING_CLASS_NAMES,
                     serving_model_dir: Optional[str] = None,
                     beam_pipeline_args: Sequence[str] = configs.BEAM_PIPELINE_ARGS) -> Path:
    from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
    from pipeline import pipeline  # pylint: disable=g-import-not-at-top

    output_file = Path(output_file).resolve()
    output_file.parent.mkdir(parents=True, exist_ok=True)
    root = pipeline_root.rstrip("/")
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
        output_dir=str(output_file.parent), output_filename=output_file.name)
    runner.run(pipeline.create_pipeline(
        pipeline_name=configs.PIPELINE_NAME,
        pipeline_root=root,
        examples_uri=examples_uri or f"{root}/ingested",
        splits=["train", "eval"],
        class_names=class_names,
        schema_dir=IMAGE_SCHEMA_DIR,
        serving_model_dir=serving_model_dir or f"{root}/serving_model",
        beam_pipeline_args=beam_pipeline_args,
    ), write_out=True)
    return output_file
