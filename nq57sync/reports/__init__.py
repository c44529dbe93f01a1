"""Reports for the Trung tâm PVHCC: one content, four formats (docx, xlsx, html, md)."""

from nq57sync.reports.content import ReportContent, build
from nq57sync.reports.writers import FORMATS, write

__all__ = ["FORMATS", "ReportContent", "build", "write"]
