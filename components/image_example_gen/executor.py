"""The ImageExampleGen executor: the ingestion Beam job, written into the Examples artifact."""
from __future__ import annotations

import logging
from typing import Any

from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.image_example_gen import beam_job, layout, manifest

# Custom properties of the Examples artifact that carry the manifest's accounting into ML Metadata.
ACCOUNTING = ("files_found", "files_ingested", "files_rejected")


def split_folders(exec_properties: dict[str, Any]) -> dict[str, str]:
    """Split name -> folder, from the input config's patterns (`<folder>/*/*`)."""
    config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], config)
    return {split.name: split.pattern.split("/", 1)[0] for split in config.splits}


class Executor(base_beam_executor.BaseBeamExecutor):
    """Scans the data root, converts every image in one Beam job and accounts for every file."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        root = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        scanned = layout.scan(root, split_folders(exec_properties))
        converted = beam_job.convert(scanned, root, examples.uri, self._make_beam_pipeline)
        written = converted.manifest

        # A declared split whose folder is absent (an optional test/) is not an output split.
        examples.split_names = artifact_utils.encode_split_names(written["splits"])
        examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
        examples_utils.set_file_format(examples, "tfrecords_gzip")
        examples.set_string_custom_property("content_hash", converted.digest)
        for key in ACCOUNTING:
            examples.set_int_custom_property(key, written[key])
        examples.set_int_custom_property("exact_duplicates", len(converted.found.exact))
        examples.set_int_custom_property("near_duplicates", len(converted.found.near))
        logging.info("ingest: %s: %s", examples.uri, manifest.summary(written))
