"""Tables and plots of run records: ``report(records_or_dir, out_dir)``.

Cheap to import: pandas, matplotlib and seaborn load only when a report is drawn.
"""

from __future__ import annotations

from harness.report.table import NoRecordsError, ReportResult, report, report_main

__all__ = ["NoRecordsError", "ReportResult", "report", "report_main"]
