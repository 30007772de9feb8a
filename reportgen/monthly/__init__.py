"""The monthly operations around a build: the history database, staged and locked output files,
marketing target lists and exports, BI extracts, and e-mail delivery with its send ledger.

May import the report model and the renderers' file naming; never the CLI. Segmentation results
reach it only through the API.
"""
