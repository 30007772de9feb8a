"""The project's one exception tree.

Every error a user can cause is a :class:`ReportgenError` subclass carrying an exit code. Library
code raises them (wrapping third-party errors where they are called, with context); only the CLI
turns them into exit statuses. Messages are one line and never contain customer values.
"""

from __future__ import annotations


class ReportgenError(Exception):
    """Base class: a problem the user can fix. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class OutputError(ReportgenError):
    """The output cannot be written (folder not writable, disk full); nothing reached a final name."""

    exit_code = 1


class InputError(ReportgenError):
    """The customer extract cannot be read or breaks the input contract."""

    exit_code = 2


class ConfigError(ReportgenError):
    """A settings, config, playbook or template file is wrong."""

    exit_code = 3


class ModelError(ReportgenError):
    """A saved segmentation model cannot be read or does not fit the data."""

    exit_code = 4


class RenderError(ReportgenError):
    """A deliverable could not be rendered (template, master, blocked resource)."""

    exit_code = 5


class DeliveryError(ReportgenError):
    """E-mail delivery failed."""

    exit_code = 6


class LockedError(ReportgenError):
    """Another run of the same month holds the lock."""

    exit_code = 7


class HistoryError(ReportgenError):
    """The history database cannot be read or written."""

    exit_code = 8
