"""The report model: frozen dataclasses of plain values that every deliverable is rendered from,
the builder that turns a segmentation result into it, and the one module that turns numbers into
text for every format.

The model modules (:mod:`.model`, :mod:`.formatting`) import no analytics; only the builder reads
segmentation results. Never imports a renderer, the monthly operations or the CLI.
"""
