"""The analytics: the transform, choosing k, fitting K-Means, segment profiles, naming segments
as personas from the playbook, drift against earlier months, and the engines (local, Spark)
that run these steps behind one interface.

May import :mod:`reportgen.data` and the top-level errors and config; never the report model,
a renderer, the monthly operations or the CLI. It knows no output format.
"""
