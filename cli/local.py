"""The local runner: TFX's LocalDagRunner with ML Metadata on SQLite and Beam's DirectRunner. It only
wires that environment around pipeline.create_pipeline; the pipeline itself ingests the image folders
(its first step) and writes the run report (its last)."""
from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Optional

from pipeline import configs
from modules.settings import Settings


@dataclasses.dataclass
class LocalRunSettings:
    """Where a local run reads and writes, and its settings (modules/settings.py), passed on whole."""
    data_root: Path = configs.SAMPLE_DATA_ROOT
    output_root: Path = configs.OUTPUT_ROOT
    pipeline_name: str = configs.PIPELINE_NAME
    pipeline_root: Optional[Path] = None    # default: <output_root>/pipelines/<pipeline_name>
    serving_dir: Optional[Path] = None      # default: <output_root>/serving_model/<pipeline_name>
    settings: Settings = Settings()
    enable_cache: bool = True
    beam_pipeline_args: list = dataclasses.field(default_factory=lambda: list(configs.DEFAULT_BEAM_PIPELINE_ARGS))

    def __post_init__(self):
        self.output_root = Path(self.output_root).resolve()
        self.pipeline_root = Path(self.pipeline_root or self.output_root / "pipelines" / self.pipeline_name).resolve()
        self.serving_dir = Path(self.serving_dir or self.output_root / "serving_model" / self.pipeline_name).resolve()

    @property
    def metadata_path(self) -> Path:
        # Beside the artifacts it describes, so that one --pipeline-root moves a run's whole state.
        return self.pipeline_root / "metadata.sqlite"


def run(local: LocalRunSettings):
    """Runs the pipeline and returns its RunSummary (components/run_report/run_summary.py): of this
    run, named by the id it was given here, even if another process ran the pipeline meanwhile."""
    from tfx import v1 as tfx
    from tfx.dsl.compiler import compiler, constants
    from tfx.orchestration.portable import runtime_parameter_utils
    from components.image_example_gen import layout as layouts
    from components.run_report import run_summary
    from pipeline import pipeline

    data_root = str(Path(local.data_root).resolve())
    # Checked before any work, so that a bad layout is one clear line (the pipeline checks again).
    layout = layouts.scan(data_root)
    local.pipeline_root.mkdir(parents=True, exist_ok=True)
    compiled = compiler.Compiler().compile(pipeline.create_pipeline(
        pipeline_name=local.pipeline_name, pipeline_root=str(local.pipeline_root), data_root=data_root,
        splits=layout.splits, class_names=layout.class_names, schema_dir=str(configs.SCHEMA_DIR),
        serving_model_dir=str(local.serving_dir), settings=local.settings,
        beam_pipeline_args=local.beam_pipeline_args,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(local.metadata_path)),
        enable_cache=local.enable_cache))
    # The id LocalDagRunner would give it (the start time), given here so that we know it.
    run_id = datetime.datetime.now().isoformat()
    runtime_parameter_utils.substitute_runtime_parameter(compiled, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    tfx.orchestration.LocalDagRunner().run_with_ir(compiled)
    return run_summary.summarize(run_summary.find_run(str(local.metadata_path), local.pipeline_name, run_id))
