"""RunReport: the pipeline's last step, the run's self-contained HTML report (report.py, figures.py),
and reading a run back from ML Metadata (run_summary.py, evaluation_results.py)."""
