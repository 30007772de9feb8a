"""BI extracts: tidy tables for Power BI, Tableau or any tool that reads Parquet or CSV.

``reportgen export --format parquet|csv`` writes five tables (one file each) and their schema,
all or nothing, into one folder:

====================  =======================================================================
``customers``         one row per customer: ``CUST_ID`` (full id: this is the analyst's
                      extract), ``segment``, ``persona``, ``limit_band``, ``utilisation_band``
                      and the 17 contract features. ``TENURE`` (whole months) is the tenure
                      dimension; there is no second ``tenure`` column because Power BI and
                      Tableau treat column names case-insensitively and would reject the pair.
``segment_profiles``  long format, one row per (segment, profile feature): ``segment``,
                      ``persona``, ``feature``, ``mean``, ``median``, ``portfolio_mean``, ``z``, ``index``
``kpis``              long format, one row per (segment, KPI): ``month``, ``segment`` (the
                      segment id as text, ``"all"`` for the portfolio), ``persona``
                      (``"Portfolio"`` for the portfolio), ``kpi``, ``value``
``actions``           one row per sized action, as ``targets/recommendations.csv``: ``month``,
                      ``segment``, ``persona``, ``action``, ``text``, ``eligible_rule``,
                      ``eligible``, ``control``, ``balance``, ``purchases``, ``cash_advance``,
                      ``period_months``, ``stake``, ``kpi``, ``channel``, ``priority``, ``target_list``
``migration``         customers moving between personas: ``month_from``, ``month_to``,
                      ``persona_from``, ``persona_to``, ``customers`` (no rows until the
                      history store holds a previous month)
``bi-schema.json``    :data:`BI_SCHEMA` as JSON: every table's columns with type and meaning
====================  =======================================================================

Types are ``string``, ``int64`` and ``float64``; Parquet files carry them (also for empty
tables), CSV files are UTF-8 with a header row. Band labels follow the report model's cube
(:data:`reportgen.report.model.LIMIT_BANDS`, :data:`reportgen.report.model.UTILISATION_BANDS`), so counts per
band match the dashboard. KPI values are computed from the cube's sums exactly as the dashboard
computes them (:data:`reportgen.report.model.KPI_FORMULAS`). Text cells of CSV files that a
spreadsheet would run as a formula (``= + - @``, tab, carriage return) are prefixed with ``'``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from reportgen.data.contract import BY_NAME, FEATURES, ID_COLUMN
from reportgen.errors import ConfigError, RenderError
from reportgen.monthly.exports import export_values
from reportgen.monthly.outputs import csv_bytes, write_set
from reportgen.monthly.targets import recommendations_table
from reportgen.report.model import KPI_FORMULAS, LIMIT_BANDS, UTILISATION_BANDS, ReportModel

BI_FORMATS = ("parquet", "csv")
PORTFOLIO_SEGMENT = "all"
PORTFOLIO_PERSONA = "Portfolio"
SCHEMA_FILE = "bi-schema.json"

#: table -> column -> (type, meaning). The order of columns is the order in the files.
BI_SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "customers": {
        ID_COLUMN: ("string", "Customer id as in the extract (not masked)"),
        "segment": ("int64", "Segment id, 1..k (stable from month to month)"),
        "persona": ("string", "Segment name (persona from the playbook, or a descriptive name)"),
        "limit_band": ("string", "Credit-limit band: " + ", ".join(b[2] for b in LIMIT_BANDS)),
        "utilisation_band": (
            "string",
            "Utilisation (BALANCE / CREDIT_LIMIT, 0 without a limit) band: " + ", ".join(b[2] for b in UTILISATION_BANDS),
        ),
        **{
            c: ("int64" if c == "TENURE" else "float64", f"{BY_NAME[c].description} ({BY_NAME[c].unit})")
            for c in FEATURES
        },
    },
    "segment_profiles": {
        "segment": ("int64", "Segment id, 1..k"),
        "persona": ("string", "Segment name"),
        "feature": ("string", "Profile feature: a contract column or a derived ratio (UTILISATION, PAYMENT_RATIO, ...)"),
        "mean": ("float64", "Mean of the feature in the segment, in the feature's unit"),
        "median": ("float64", "Median of the feature in the segment"),
        "portfolio_mean": ("float64", "Mean of the feature over all customers"),
        "z": ("float64", "Segment mean of the standardised feature (log1p first for amounts); 0 = portfolio average"),
        "index": ("float64", "Segment mean as an index of the portfolio mean (100 = portfolio), as the report shows it; "
                             "empty where the portfolio mean is zero"),
    },
    "kpis": {
        "month": ("string", "Report month, YYYY-MM"),
        "segment": ("string", "Segment id as text, or 'all' for the whole portfolio"),
        "persona": ("string", "Segment name, or 'Portfolio'"),
        "kpi": ("string", "KPI key: customers, balance, purchases, payments, utilisation, avg_balance, ..."),
        "value": ("float64", "KPI value: counts, dollars, or shares of 1 (utilisation, full_payment, cash_advance_users)"),
    },
    "actions": {
        "month": ("string", "Report month, YYYY-MM"),
        "segment": ("int64", "Segment id, 1..k"),
        "persona": ("string", "Segment name"),
        "action": ("string", "Action key from the playbook (stable from month to month)"),
        "text": ("string", "What to do"),
        "eligible_rule": ("string", "Who is eligible, in words"),
        "eligible": ("int64", "Customers eligible for the action (its target list's rows)"),
        "control": ("int64", "Of them, held out as the control group (not to be contacted)"),
        "balance": ("float64", "Balances of the eligible customers at the month's end, dollars"),
        "purchases": ("float64", "Purchases of the eligible customers over the extract's period, dollars"),
        "cash_advance": ("float64", "Cash advances of the eligible customers over the extract's period, dollars"),
        "period_months": ("int64", "Months the purchases and cash advances cover"),
        "stake": ("string", "Which amount the action is about (balances, purchases, cash advances, ...)"),
        "kpi": ("string", "The KPI to watch"),
        "channel": ("string", "Channel"),
        "priority": ("string", "Priority: high, medium or low"),
        "target_list": ("string", "The action's target list file in OUT/MONTH/targets/"),
    },
    "migration": {
        "month_from": ("string", "Earlier month, YYYY-MM"),
        "month_to": ("string", "Later month (the report month), YYYY-MM"),
        "persona_from": ("string", "Segment name in month_from"),
        "persona_to": ("string", "Segment name in month_to"),
        "customers": ("int64", "Customers in persona_from then and persona_to now"),
    },
}

_DTYPES = {"string": "object", "int64": "int64", "float64": "float64"}


def write_bi_extracts(result, model: ReportModel, out_dir: Path, fmt: str) -> list[Path]:
    """Write the BI tables as ``fmt`` ("parquet" or "csv") into ``out_dir``, all or nothing;
    return the paths written (the five tables, then ``bi-schema.json``)."""
    if fmt not in BI_FORMATS:
        raise ConfigError(f"unknown BI extract format {fmt!r}; valid formats: {', '.join(BI_FORMATS)}")
    tables = build_bi_tables(result, model)
    files = {f"{name}.{fmt}": _encode(frame, name, fmt) for name, frame in tables.items()}
    files[SCHEMA_FILE] = schema_json().encode("utf-8")
    return write_set(Path(out_dir), files)


def build_bi_tables(result, model: ReportModel) -> dict[str, pd.DataFrame]:
    """The five tables as DataFrames with the columns and dtypes of :data:`BI_SCHEMA`."""
    tables = {
        "customers": customers_table(result, model),
        "segment_profiles": profiles_table(model),
        "kpis": kpis_table(model),
        "actions": actions_table(model),
        "migration": migration_table(model),
    }
    return {name: _conform(frame, name) for name, frame in tables.items()}


def customers_table(result, model: ReportModel) -> pd.DataFrame:
    """One row per customer with segment, persona, bands and the 17 features."""
    features = result.clean.features
    labels = np.asarray(result.labels)
    names = np.asarray([s.name for s in model.segments], dtype=object)
    limit = features["CREDIT_LIMIT"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(limit > 0, features["BALANCE"].to_numpy(dtype="float64") / np.where(limit > 0, limit, 1), 0.0)
    frame = pd.DataFrame(
        {
            ID_COLUMN: result.clean.ids.astype(str).to_numpy(),
            "segment": labels + 1,
            "persona": names[labels],
            "limit_band": band_labels(limit, LIMIT_BANDS),
            "utilisation_band": band_labels(utilisation, UTILISATION_BANDS),
        }
    )
    for column in FEATURES:
        frame[column] = export_values(features, column)
    return frame


def band_labels(values: np.ndarray, bands) -> np.ndarray:
    """The band label of every value: the cube's rule (a value equal to a band's lower edge
    belongs to that band)."""
    edges = np.asarray([low for low, _high, _label in bands[1:]], dtype="float64")
    labels = np.asarray([label for _low, _high, label in bands], dtype=object)
    return labels[np.searchsorted(edges, values, side="right")]


def profiles_table(model: ReportModel) -> pd.DataFrame:
    """Every segment's profile in long format."""
    return pd.DataFrame(
        [
            {
                "segment": s.id,
                "persona": s.name,
                "feature": row.feature,
                "mean": row.mean,
                "median": row.median,
                "portfolio_mean": row.portfolio_mean,
                "z": row.z,
                "index": row.index if row.index is not None else float("nan"),
            }
            for s in model.segments
            for row in s.profile
        ]
    )


def actions_table(model: ReportModel) -> pd.DataFrame:
    """Every sized action, as the rows of ``recommendations.csv`` and the workbook's sheet."""
    table = recommendations_table(model)
    return pd.DataFrame(
        {
            "month": model.facts.month,
            "segment": [a.segment_id for a in model.actions],
            "persona": table["Segment"], "action": table["Action key"], "text": table["Action"],
            "eligible_rule": table["Who is eligible"], "eligible": table["Eligible customers"],
            "control": table["Control customers"], "balance": table["Balance at month end"],
            "purchases": table["Purchases over period"], "cash_advance": table["Cash advance over period"],
            "period_months": table["Period (months)"], "stake": table["Money at stake"], "kpi": table["KPI"],
            "channel": table["Channel"], "priority": table["Priority"], "target_list": table["Target list"],
        },
        columns=list(BI_SCHEMA["actions"]),
    )


def kpis_table(model: ReportModel) -> pd.DataFrame:
    """The portfolio's and every segment's KPIs, computed from the cube's exact sums."""
    measures = {m: i for i, m in enumerate(model.cube.measures, start=len(model.cube.dimensions))}
    rows = np.asarray(model.cube.rows, dtype="float64").reshape(-1, len(model.cube.dimensions) + len(measures))
    keys = [k.key for k in model.kpis if k.key in KPI_FORMULAS]
    records = []
    groups = [(PORTFOLIO_SEGMENT, PORTFOLIO_PERSONA, np.ones(len(rows), bool))] + [
        (str(s.id), s.name, rows[:, 0] == s.id) for s in model.segments
    ]
    for segment, persona, mask in groups:
        sums = rows[mask].sum(axis=0)
        for key in keys:
            numerator, denominator, _format = KPI_FORMULAS[key]
            value = sums[measures[numerator]]
            if denominator is not None and not sums[measures["customers"]]:
                value = float("nan")  # no customer, no average or share (the report's "–"), not 0
            elif denominator is not None:
                value = value / sums[measures[denominator]] if sums[measures[denominator]] else 0.0
            records.append({"month": model.facts.month, "segment": segment, "persona": persona, "kpi": key, "value": float(value)})
    return pd.DataFrame(records)


def migration_table(model: ReportModel) -> pd.DataFrame:
    """Customers per (persona last month, persona now); no rows without history."""
    history = getattr(model, "history", None)
    migration = getattr(history, "migration", None)
    if migration is None:
        return pd.DataFrame(columns=list(BI_SCHEMA["migration"]))
    return pd.DataFrame(
        [
            {
                "month_from": migration.month_from,
                "month_to": migration.month_to,
                "persona_from": name_from,
                "persona_to": name_to,
                "customers": int(count),
            }
            for name_from, row in zip(migration.names_from, migration.counts)
            for name_to, count in zip(migration.names_to, row)
        ],
        columns=list(BI_SCHEMA["migration"]),
    )


def schema_json() -> str:
    """:data:`BI_SCHEMA` as indented JSON: table -> list of {name, type, description}."""
    tree = {
        table: [{"name": name, "type": kind, "description": meaning} for name, (kind, meaning) in columns.items()]
        for table, columns in BI_SCHEMA.items()
    }
    return json.dumps(tree, indent=1) + "\n"


def _conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` with exactly the schema's columns, in order, with the schema's dtypes."""
    columns = BI_SCHEMA[table]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RenderError(f"BI table {table} lacks column(s) {', '.join(missing)}")
    out = frame[list(columns)].copy()
    for name, (kind, _meaning) in columns.items():
        if kind == "string":
            out[name] = out[name].map(lambda v: v if v is None else str(v)).astype(object)
        else:
            out[name] = out[name].astype(_DTYPES[kind])
    return out.reset_index(drop=True)


def _encode(frame: pd.DataFrame, table: str, fmt: str) -> bytes:
    if fmt == "parquet":
        return _parquet(frame, table)
    return csv_bytes(frame)


def _parquet(frame: pd.DataFrame, table: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    schema = pa.schema(
        [pa.field(name, kinds[kind], metadata={"description": meaning}) for name, (kind, meaning) in BI_SCHEMA[table].items()]
    )
    arrow = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    return buffer.getvalue()
