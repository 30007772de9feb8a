"""The input side: the column contract, reading CSV and Parquet extracts, validation and
imputation, derived features, and synthetic customers for demos and tests.

May import only :mod:`reportgen.errors` and :mod:`reportgen.config` from the rest of the package:
it knows nothing of segments, reports or formats.
"""
