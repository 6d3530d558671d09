"""RunReport: the pipeline's last step, the run's self-contained HTML report (pipeline/report.py)."""
