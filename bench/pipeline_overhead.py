"""Wall time of every step except the Trainer's fitting: ingestion and each component, for one or
more Beam configurations, each from scratch (its own output root, no cache).

    .venv/bin/python bench/pipeline_overhead.py --data-root ../shared/datasets/clothing-dataset-small
    .venv/bin/python bench/pipeline_overhead.py --data-root DIR \
        --beam "--direct_running_mode=multi_processing --direct_num_workers=2"

The Trainer runs one epoch (its time is listed, not counted), and the HTML report, written after
the run, is listed apart. Prints a Markdown table.
"""
import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path


import common
from pipeline import configs

IN_MEMORY = " ".join(configs.DEFAULT_BEAM_PIPELINE_ARGS)
MULTI_PROCESS = "--direct_running_mode=multi_processing --direct_num_workers=2"
REPORT = "report (after the run)"


def measure(data_root: Path, beam: str, scratch: Path, model: str) -> dict:
    from components.run_report import report
    settings = common.gates_off_run(data_root, scratch, "overhead", model, beam_pipeline_args=shlex.split(beam),
                                    enable_cache=False)
    started = time.time()
    summary = common.run(settings)
    seconds = {c.component_id: c.seconds for c in summary.components}
    seconds["wall"] = time.time() - started
    report_started = time.time()  # the run wrote its report already (RunReport); this times `image-pipeline report`
    report.write_report(settings.pipeline_root, settings.pipeline_name, summary.run_id)
    seconds[REPORT] = time.time() - report_started
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=configs.SAMPLE_DATA_ROOT)
    parser.add_argument("--beam", action="append", help=f"Beam options, repeatable (default: '{IN_MEMORY}' and "
                                                         f"'{MULTI_PROCESS}')")
    parser.add_argument("--model", help="default: the default model")
    args = parser.parse_args()
    results = {}
    for beam in args.beam or [IN_MEMORY, MULTI_PROCESS]:
        with tempfile.TemporaryDirectory() as scratch:
            results[beam] = measure(args.data_root.resolve(), beam, Path(scratch), args.model)
        print(f"{beam}: {results[beam]}", flush=True)

    steps = list(next(iter(results.values())))
    print("\n| step | " + " | ".join(f"`{beam}`" for beam in results) + " |")
    print("|---|" + "---|" * len(results))
    for step in steps:
        print(f"| {step} | " + " | ".join(f"{r.get(step, 0):.1f}" for r in results.values()) + " |")
    overhead = {beam: sum(s for step, s in r.items() if step not in ("Trainer", "wall", REPORT))
                for beam, r in results.items()}
    print("| **all but the Trainer** | " + " | ".join(f"**{v:.1f}**" for v in overhead.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
