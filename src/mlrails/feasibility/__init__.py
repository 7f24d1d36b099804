"""`mlrails check`: the playbook's first three questions, answered from the data and the
config before any modeling — is the right data available, is there a path to action, is
the use case still worth it at lower accuracy — each "yes", "no" or "unknown", with the
evidence.

:mod:`.assess` is the pure core (a table and the config in, a :class:`Report` out);
:mod:`.runner` reads local or S3 data and writes the answer and the HTML page.
"""

from mlrails.feasibility.options import CheckOptions
from mlrails.feasibility.runner import run_check
from mlrails.feasibility.verdicts import Answer, Finding, Report

__all__ = ["Answer", "CheckOptions", "Finding", "Report", "run_check"]
