"""The renderers: one module or subpackage per format (HTML, PDF, PowerPoint deck, dashboard),
the Jinja environment they share, the charts drawn once per build, and the pool of render lanes.

A renderer is a function of the report model, the charts and the render settings. It may import
:mod:`reportgen.report.model` and :mod:`reportgen.report.formatting`, never the analytics
(:mod:`reportgen.segmentation`, :mod:`reportgen.data`, scikit-learn), the monthly operations or the CLI.
"""
