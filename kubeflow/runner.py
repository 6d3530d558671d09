"""Compiles the pipeline for Kubeflow Pipelines with KubeflowV2DagRunner, offline, as pipeline spec 2.1.

One spec for open-source Kubeflow Pipelines (v2) and Vertex AI Pipelines alike:
- spec 2.1: every parameter in the `constant` form that the open-source driver reads and its
  launcher passes as `parameterValues` (2.0's `constantValue` would reach the TFX entrypoint
  only through the legacy `parameters` map, which that launcher does not fill);
- no `resolver` task (the open-source backend refuses them): the Evaluator's baseline comes
  from LatestPushedModel, compiled with caching off so that it reads the serving directory on
  every run;
- components reference the model code by module path, installed in the image
  (kubeflow/Dockerfile), so compiling uploads nothing.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional, Sequence

from components import ids
from modules.settings import Settings

# Where the image keeps the repository's schema/ folder.
IMAGE_SCHEMA_DIR = "/pipeline/schema"
# Tasks whose answer depends on state outside their inputs: never served from the cache.
UNCACHED_TASKS = (ids.BASELINE,)


def compile_pipeline(output_file: str | os.PathLike, *, image: str, pipeline_root: str, data_root: str,
                     splits: Sequence[str], class_names: Sequence[str], beam_pipeline_args: Sequence[str],
                     settings: Settings = Settings(), pipeline_name: Optional[str] = None,
                     serving_model_dir: Optional[str] = None, enable_cache: bool = True) -> Path:
    """Writes the pipeline JSON and returns its path.

    `settings` (modules/settings.py) go to create_pipeline whole; the pipeline name defaults to
    configs.PIPELINE_NAME and the serving directory to PIPELINE_ROOT/serving_model.
    """
    from tfx import v1 as tfx
    from modules import outputs
    from pipeline import configs, pipeline

    output_file = Path(output_file).resolve()
    root = pipeline_root.rstrip("/")
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image, use_pipeline_spec_2_1=True),
        output_dir=str(output_file.parent), output_filename=output_file.name)
    document = runner.run(pipeline.create_pipeline(
        pipeline_name=pipeline_name or configs.PIPELINE_NAME, pipeline_root=root, data_root=data_root, splits=splits,
        class_names=class_names, schema_dir=IMAGE_SCHEMA_DIR,
        serving_model_dir=serving_model_dir or f"{root}/serving_model", settings=settings,
        beam_pipeline_args=beam_pipeline_args, enable_cache=enable_cache), write_out=False)
    for name, task in document["pipelineSpec"]["root"]["dag"]["tasks"].items():
        if name in UNCACHED_TASKS:
            task["cachingOptions"] = {"enableCache": False}
    return outputs.write_text(output_file, json.dumps(document, indent=2, sort_keys=True) + "\n")
