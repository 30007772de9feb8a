"""reportgen: credit-card customer segmentation reports.

One pipeline (:mod:`reportgen.segmentation.pipeline`) reads and validates a customer extract, segments it
with K-Means and names the segments from a persona playbook; :mod:`reportgen.report.model` turns the
result into one report model that every renderer (PDF, PowerPoint, HTML, dashboard, e-mail,
exports) draws from. :mod:`reportgen.api` is the Python API; :mod:`reportgen.cli` the command.
"""

__version__ = "0.1.0"
