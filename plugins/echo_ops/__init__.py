"""Echo's logic: one module per pipeline stage, importable without Airflow."""

__version__ = "0.1.0"
