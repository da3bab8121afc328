"""Data quality for every hop: suites in the repo, SQL + Great Expectations, results in ops.dq_results.

Importing this package is cheap; Great Expectations loads only when a suite runs.
"""

from echo_ops.quality.runner import (
    DataQualityError,
    SuiteResult,
    failure_message,
    get_suite,
    run_suite,
)
from echo_ops.quality.suites import SUITE_NAMES

__all__ = [
    "SUITE_NAMES",
    "DataQualityError",
    "SuiteResult",
    "failure_message",
    "get_suite",
    "run_suite",
]
