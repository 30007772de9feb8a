"""Settings: one frozen object built from defaults, an optional TOML config file and CLI flags.

The config file is TOML. Every table is optional; unknown keys are an error (a typo must not be
silently ignored)::

    [report]
    title = "Customer Segmentation Report"
    locale = "de_DE"         # numbers, amounts and dates in every output (Babel/CLDR); default en_US
    currency = "EUR"         # ISO 4217 code of the amounts; default USD

    [input]
    period_months = 6        # months the extract's purchases, payments and cash advances cover
    delimiter = ";"          # sniffed from the header when absent
    encoding = "latin-1"     # UTF-8 (with or without BOM) is tried first when absent
    # with --data postgresql://user@host:5432/db (pip install 'reportgen[sql]'): a table or a query
    table = "customers"      # or: query = "SELECT * FROM cards WHERE month = '2026-11'"
    password_env = "WAREHOUSE_PASSWORD"   # else PGPASSWORD; never a password in the URL or here

    [input.columns]          # contract name = the header in your extract
    CUST_ID = "customer_number"
    BALANCE = "bal_amt"

    [segmentation]
    k_min = 3
    k_max = 8
    # k = 5                  # force k instead of choosing it
    seed = 42
    bootstrap = 8            # refits on resamples for each segment's stability (Jaccard)
    selection_sample = 4000  # customers used to choose k (the final fit uses everyone)
    silhouette_sample = 3000
    min_segment_share = 0.03
    min_stability = 0.80     # every segment's stability must reach this for a k to be stable
    silhouette_tolerance = 0.01

    [personas]
    playbook = "my-personas.toml"   # relative to the config file

    [actions]
    control_share = 0.10            # share of each action's eligible customers held out as control
    min_eligible = 30               # an action is recommended only with at least this many eligible customers

    [history]
    database = "history.duckdb"     # relative to the config file; default OUT/history.duckdb
    trend_months = 6

    [dashboard]
    show_customer_ids = false       # true shows full ids in the dashboard's customer table

    [email]
    host = "smtp.example.com"
    port = 587
    security = "starttls"           # or "ssl"
    sender = "reports@example.com"
    username_env = "REPORTGEN_SMTP_USER"      # credentials only from the environment
    password_env = "REPORTGEN_SMTP_PASSWORD"
    max_attachment_mb = 10

    [email.audiences.executives]
    to = ["cfo@example.com"]
    attach = ["pdf", "pptx"]

    [email.audiences.marketing]
    to = ["campaigns@example.com"]
    attach = ["recommendations", "actions"]
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from reportgen.config_rules import _bounded, _build, _reject_unknown, _typed, recipient
from reportgen.data.contract import FEATURES, ID_COLUMN
from reportgen.errors import ConfigError
from reportgen.report.formatting import check_style
from reportgen.resources import bundled_path


@dataclass(frozen=True)
class InputSettings:
    """How to read the customer extract."""

    delimiter: str | None = None
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    table: str | None = None
    query: str | None = None
    password_env: str | None = None
    period_months: int = 6


@dataclass(frozen=True)
class ActionSettings:
    """How the playbook's actions become target lists."""

    control_share: float = 0.10
    min_eligible: int = 30  # fewer eligible customers: the action is not recommended (listed as withheld)


@dataclass(frozen=True)
class SegmentationSettings:
    """How to choose k and fit the segments."""

    k_min: int = 3
    k_max: int = 8
    k: int | None = None
    seed: int = 42
    bootstrap: int = 8
    selection_sample: int = 4_000
    silhouette_sample: int = 3_000
    min_segment_share: float = 0.03
    min_stability: float = 0.80
    silhouette_tolerance: float = 0.01


@dataclass(frozen=True)
class HistorySettings:
    """Where runs are recorded (DuckDB) and how many months the trends show."""

    database: Path | None = None
    trend_months: int = 6


@dataclass(frozen=True)
class Audience:
    """One group of e-mail recipients and what they receive."""

    name: str
    to: tuple[str, ...]
    attach: tuple[str, ...]
    subject: str | None = None


@dataclass(frozen=True)
class EmailSettings:
    """SMTP delivery. Credentials come only from the environment variables named here."""

    host: str | None = None
    port: int = 587
    security: str = "starttls"
    sender: str | None = None
    username_env: str = "REPORTGEN_SMTP_USER"
    password_env: str = "REPORTGEN_SMTP_PASSWORD"
    max_attachment_mb: float = 10.0
    timeout: float = 30.0
    retries: int = 3
    backoff_seconds: float = 2.0
    audiences: tuple[Audience, ...] = ()


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides the data itself."""

    input: InputSettings = field(default_factory=InputSettings)
    segmentation: SegmentationSettings = field(default_factory=SegmentationSettings)
    playbook: Path = field(default_factory=lambda: bundled_path("data", "personas.toml"))
    history: HistorySettings = field(default_factory=HistorySettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    email: EmailSettings = field(default_factory=EmailSettings)
    show_customer_ids: bool = False
    title: str = "Customer Segmentation Report"
    locale: str = "en_US"
    currency: str = "USD"
    config_path: Path | None = None


def load_settings(
    path: Path | None = None, *, k: int | None = None, table: str | None = None, query: str | None = None
) -> Settings:
    """Read the TOML config at ``path`` (defaults when ``None``) and apply CLI overrides
    (``table`` or ``query`` replaces both of the config's)."""
    settings = Settings() if path is None else _settings_from_file(Path(path))
    if k is not None:
        settings = replace(settings, segmentation=replace(settings.segmentation, k=k))
    if table is not None or query is not None:
        settings = replace(settings, input=replace(settings.input, table=table, query=query))
    _check_segmentation(settings.segmentation, settings.config_path)
    return settings


def _settings_from_file(path: Path) -> Settings:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _reject_unknown(raw, {"report", "input", "segmentation", "personas", "actions", "history", "dashboard", "email"}, path, "top level")
    report = _table(raw, "report", path)
    _reject_unknown(report, {"title", "locale", "currency"}, path, "[report]")
    personas = _table(raw, "personas", path)
    _reject_unknown(personas, {"playbook"}, path, "[personas]")
    dashboard = _table(raw, "dashboard", path)
    _reject_unknown(dashboard, {"show_customer_ids"}, path, "[dashboard]")
    if "playbook" in personas:
        playbook = (path.parent / _typed(personas["playbook"], str, path, "personas.playbook")).resolve()
    else:
        playbook = Settings().playbook
    return Settings(
        input=_input(raw, path),
        segmentation=_build(SegmentationSettings, _table(raw, "segmentation", path), path, "[segmentation]"),
        playbook=playbook,
        history=_history(raw, path),
        actions=_actions(raw, path),
        email=_email(raw, path),
        show_customer_ids=_typed(dashboard.get("show_customer_ids", False), bool, path, "dashboard.show_customer_ids"),
        title=_typed(report.get("title", Settings.title), str, path, "report.title"),
        **_style(report, path),
        config_path=path,
    )


def _style(report: dict, path: Path) -> dict:
    locale = _typed(report.get("locale", Settings.locale), str, path, "report.locale")
    currency = _typed(report.get("currency", Settings.currency), str, path, "report.currency")
    try:
        locale, currency = check_style(locale, currency)
    except ValueError as exc:
        raise ConfigError(f"{path}: [report] {exc}") from None
    return {"locale": locale, "currency": currency}


def _table(raw: dict, name: str, path: Path) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{name}] must be a table")
    return dict(value)


def _input(raw: dict, path: Path) -> InputSettings:
    table = _table(raw, "input", path)
    if "password" in table:
        raise ConfigError(
            f"{path}: [input] password is not accepted (a config file is no place for a secret); put the "
            f"password in an environment variable and name it with [input] password_env"
        )
    _reject_unknown(table, {"delimiter", "encoding", "columns", "table", "query", "password_env", "period_months"}, path, "[input]")
    mapping = table.pop("columns", {})
    if not isinstance(mapping, dict):
        raise ConfigError(f"{path}: input.columns must be a table of contract name = header, e.g. [input.columns]")
    columns = {str(k): _typed(v, str, path, f"input.columns.{k}") for k, v in mapping.items()}
    period = _typed(table.pop("period_months", 6), int, path, "input.period_months")
    if not 1 <= period <= 36:
        raise ConfigError(f"{path}: input.period_months must be from 1 to 36, got {period}")
    bad = sorted(set(columns) - {ID_COLUMN, *FEATURES})
    if bad:
        raise ConfigError(
            f"{path}: [input.columns] maps unknown contract column(s) {', '.join(bad)}; "
            f"valid names: {ID_COLUMN}, {', '.join(FEATURES)}"
        )
    settings = InputSettings(columns=columns, period_months=period, **{k: _typed(v, str, path, f"input.{k}") for k, v in table.items()})
    if settings.delimiter is not None and (len(settings.delimiter) != 1 or settings.delimiter in "\"\r\n"):
        raise ConfigError(f"{path}: input.delimiter must be one character such as ',' ';' '|' or a tab, got {settings.delimiter!r}")
    if settings.encoding is not None:
        import codecs

        try:
            codecs.lookup(settings.encoding)
        except LookupError:
            raise ConfigError(f"{path}: input.encoding {settings.encoding!r} is not an encoding Python knows, e.g. latin-1") from None
    return settings


def _history(raw: dict, path: Path) -> HistorySettings:
    table = _table(raw, "history", path)
    _reject_unknown(table, {"database", "trend_months"}, path, "[history]")
    database = (path.parent / _typed(table["database"], str, path, "history.database")).resolve() if "database" in table else None
    months = _bounded(table.get("trend_months", 6), path, "history.trend_months")
    return HistorySettings(database=database, trend_months=months)


def _actions(raw: dict, path: Path) -> ActionSettings:
    table = _table(raw, "actions", path)
    _reject_unknown(table, {"control_share", "min_eligible"}, path, "[actions]")
    share = _typed(table.get("control_share", 0.10), float, path, "actions.control_share")
    if not 0 <= share <= 0.5:
        raise ConfigError(f"{path}: actions.control_share must be from 0 to 0.5, got {share}")
    minimum = _bounded(table.get("min_eligible", ActionSettings.min_eligible), path, "actions.min_eligible")
    return ActionSettings(control_share=share, min_eligible=minimum)


def _email(raw: dict, path: Path) -> EmailSettings:
    table = _table(raw, "email", path)
    audiences_raw = table.pop("audiences", {})
    email = _build(EmailSettings, table, path, "[email]")
    if email.security not in ("starttls", "ssl"):
        raise ConfigError(f"{path}: email.security must be 'starttls' or 'ssl', got {email.security!r}")
    if email.sender is not None:
        recipient(email.sender, path, "email.sender")
    audiences = []
    if not isinstance(audiences_raw, dict):
        raise ConfigError(f"{path}: email.audiences must be tables such as [email.audiences.executives]")
    for name, spec in audiences_raw.items():
        where = f"[email.audiences.{name}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: {where} must be a table with 'to' and 'attach'")
        _reject_unknown(spec, {"to", "attach", "subject"}, path, where)
        to = spec.get("to", [])
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to:
            raise ConfigError(f"{path}: {where} needs 'to': a list of e-mail addresses")
        recipients = tuple(recipient(entry, path, where) for entry in to)
        attach = spec.get("attach", [])
        if not isinstance(attach, list) or not all(isinstance(a, str) for a in attach):
            raise ConfigError(f"{path}: {where} attach must be a list of text strings, e.g. [\"pdf\", \"pptx\"]")
        subject = spec.get("subject")
        if subject is not None:
            _typed(subject, str, path, f"email.audiences.{name}.subject")
        audiences.append(Audience(name=name, to=recipients, attach=tuple(attach), subject=subject))
    return replace(email, audiences=tuple(audiences))


def _check_segmentation(seg: SegmentationSettings, path: Path | None) -> None:
    where = f"{path}: " if path else ""
    ints = ("k_min", "k_max", "seed", "bootstrap", "selection_sample", "silhouette_sample")
    for name in ints:
        value = getattr(seg, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}segmentation.{name} must be a whole number, got {value!r}")
    if not 2 <= seg.k_min <= seg.k_max <= 20:
        raise ConfigError(f"{where}k range {seg.k_min}..{seg.k_max} is invalid; need 2 <= k_min <= k_max <= 20")
    if seg.k is not None and not (isinstance(seg.k, int) and 2 <= seg.k <= 20):
        raise ConfigError(f"{where}k must be a whole number from 2 to 20, got {seg.k!r}")
    if seg.bootstrap < 2:
        raise ConfigError(f"{where}segmentation.bootstrap must be at least 2, got {seg.bootstrap}")
    if seg.silhouette_sample < 100 or seg.selection_sample < 100:
        raise ConfigError(f"{where}selection_sample and silhouette_sample must be at least 100")
    if not 0 <= seg.min_segment_share < 0.5 or not 0 <= seg.min_stability <= 1:
        raise ConfigError(f"{where}min_segment_share must be in [0, 0.5) and min_stability in [0, 1]")
