"""Every bad input gets one clear line naming the file, column and rows, exit 2, no files."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from reportgen.config import InputSettings
from reportgen.data.extract import load_extract
from reportgen.data.validation import validate_extract


def _set(column: str, rows: list[int], value: str):
    def edit(frame):
        frame.loc[rows, column] = value
        return frame

    return edit


BAD_CELLS = [
    # (column, value, words the message must contain)
    ("PURCHASES", "abc123xyz", "text where a number is expected"),
    ("BALANCE", "inf", "infinite value"),
    ("PAYMENTS", "-5.25", "negative value"),
    ("CREDIT_LIMIT", "-1000", "negative value"),
    ("PURCHASES_FREQUENCY", "1.75", "frequency outside 0..1"),
    ("PRC_FULL_PAYMENT", "-0.1", "frequency outside 0..1"),
    ("TENURE", "13", "tenure"),
    ("TENURE", "0", "tenure"),
    ("BALANCE", "", "empty value"),
]


@pytest.mark.parametrize("column,value,words", BAD_CELLS)
def test_bad_cell_names_file_column_rows_and_exits_2(cli, small_csv, tmp_path, column, value, words):
    path = small_csv(edit=_set(column, [3, 17], value))
    out_dir = tmp_path / "out"
    code, out, err = cli("segment", "--data", path, "--out", out_dir, "-q")
    assert code == 2
    line = err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert str(path) in line and column in line and words in line
    assert "rows 5, 19" in line  # header is row 1, so frame rows 3 and 17 are rows 5 and 19
    if value not in ("", "0", "13", "inf"):
        assert value not in line  # customer values never reach logs
    assert not out_dir.exists()


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
        (lambda p: (p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100)), p)[1], "PNG image"),
        (lambda p: (p.write_bytes(b"PK\x03\x04" + bytes(100)), p)[1], "Excel (.xlsx)"),
        (lambda p: (p.write_bytes(b"CUST_ID,BAL\x00ANCE\n" + bytes(50)), p)[1], "binary file"),
    ],
    ids=["missing", "directory", "empty", "png", "xlsx", "binary"],
)
def test_unreadable_files(cli, tmp_path, make, words):
    path = make(tmp_path / "extract.csv")
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out", "-q")
    assert code == 2 and words in err and str(path) in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_header_only(cli, small_csv, tmp_path):
    path = small_csv(n=0)
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out")
    assert code == 2 and "header but no customer rows" in err


def test_missing_column_suggests_the_close_header(cli, small_csv, tmp_path):
    path = small_csv(edit=lambda f: f.rename(columns={"PURCHASES_TRX": "PURCHASE_TRX"}))
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out")
    assert code == 2
    assert "missing required column PURCHASES_TRX" in err and "'PURCHASE_TRX'" in err


def test_duplicate_and_empty_ids(cli, small_csv, tmp_path):
    dup = small_csv(edit=lambda f: f.assign(CUST_ID=f["CUST_ID"].where(f.index != 9, f["CUST_ID"][2])))
    code, _out, err = cli("segment", "--data", dup, "--out", tmp_path / "out")
    assert code == 2 and "duplicate customer id in rows 4, 11" in err
    empty = small_csv(edit=_set("CUST_ID", [7], ""), name="empty-id.csv")
    code, _out, err = cli("segment", "--data", empty, "--out", tmp_path / "out")
    assert code == 2 and "CUST_ID: empty customer id in row 9" in err


def test_all_empty_column(cli, small_csv, tmp_path):
    path = small_csv(edit=lambda f: f.assign(MINIMUM_PAYMENTS=""))
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out")
    assert code == 2 and "MINIMUM_PAYMENTS: every value is empty" in err


def test_ragged_rows(cli, small_csv, tmp_path):
    path = small_csv()
    lines = path.read_text().splitlines()
    lines[5] += ",7,8"
    path.write_text("\n".join(lines) + "\n")
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out")
    assert code == 2 and "ragged rows: row 6 has 20 fields, the header has 18" in err


def test_too_few_customers(cli, small_csv, tmp_path):
    path = small_csv(n=40)
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out")
    assert code == 2 and "40 customers is too few to segment (need at least 80" in err


def test_all_customers_identical(cli, small_csv, tmp_path):
    def same(frame):
        ids = frame["CUST_ID"].copy()
        frame = pd.DataFrame([frame.iloc[0]] * len(frame)).reset_index(drop=True)
        frame["CUST_ID"] = ids.to_numpy()
        return frame

    code, _out, err = cli("segment", "--data", small_csv(edit=same), "--out", tmp_path / "out")
    assert code == 2 and "identical behaviour" in err


@pytest.mark.parametrize("third_from", [None, 1_200])
def test_fewer_distinct_behaviours_than_segments(cli, small_csv, tmp_path, third_from):
    """Two behaviours cannot make three segments; a third behaviour found only after the first
    thousand customers (where the check looks first) can."""
    def behaviours(frame):
        ids = frame["CUST_ID"].to_numpy()
        late = len(frame) if third_from is None else third_from
        frame = pd.DataFrame([frame.iloc[i % 2 if i < late else 2] for i in range(len(frame))]).reset_index(drop=True)
        frame["CUST_ID"] = ids
        return frame

    path = small_csv(n=1_500, edit=behaviours)
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "out", "--k", "3")
    if third_from is None:
        assert code == 2 and f"{path}: fewer than 3 distinct customer behaviours; cannot form 3 segments" in err
    else:
        assert code == 0, err
        # without --k, the smallest k allowed (3): not k = 2 for want of more behaviours than segments
        code, out, err = cli("segment", "--data", path, "--out", tmp_path / "auto")
        assert code == 0 and out.startswith("k = 3 (chosen by the rule)"), err


def test_bad_config_exits_3(cli, small_csv, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[segmentation]\nk_mni = 3\n")
    code, _out, err = cli("segment", "--data", small_csv(), "--out", tmp_path / "o", "--config", config)
    assert code == 3 and "unknown key(s) k_mni in [segmentation]" in err


# --- extracts that differ from the reference file but are unambiguous: they just work ---


def _load(path, **settings):
    extract = load_extract(path, InputSettings(**settings))
    return extract, validate_extract(extract, min_customers=10)


def test_lower_case_spaced_headers_index_column_extra_columns(small_csv, sample_frame):
    def edit(frame):
        frame.columns = [f"  {c.lower()} " for c in frame.columns]
        frame.insert(0, "", range(len(frame)))
        frame["BRANCH"] = "north"
        return frame

    extract, clean = _load(small_csv(edit=edit))
    assert len(clean.features) == 300
    assert set(extract.ignored_columns) >= {"BRANCH"}
    assert clean.ids.tolist() == sample_frame["CUST_ID"].head(300).tolist()


def test_numeric_ids_semicolon_bom_gzip(tmp_path, sample_frame):
    frame = sample_frame.head(200).copy()
    frame["CUST_ID"] = frame["CUST_ID"].str[1:]
    path = tmp_path / "extract.csv.gz"
    text = frame.to_csv(index=False, sep=";")
    path.write_bytes(gzip.compress(("\ufeff" + text).encode("utf-8")))
    extract, clean = _load(path)
    assert extract.delimiter == ";" and clean.ids.iloc[0] == frame["CUST_ID"].iloc[0]
    assert np.isclose(clean.features["BALANCE"].sum(), pd.to_numeric(frame["BALANCE"]).sum())


def test_latin1_file_and_parquet(tmp_path, sample_frame):
    frame = sample_frame.head(200).copy()
    frame["NOTE"] = "café"
    latin = tmp_path / "latin.csv"
    latin.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    _extract, clean = _load(latin)
    assert len(clean.features) == 200
    parquet = tmp_path / "x.parquet"
    numeric = frame.drop(columns="NOTE").apply(lambda c: pd.to_numeric(c) if c.name != "CUST_ID" else c)
    numeric.to_parquet(parquet)
    extract, clean = _load(parquet)
    assert extract.file_format == "parquet" and extract.first_row == 1 and len(clean.features) == 200


def test_config_maps_renamed_columns(cli, small_csv, tmp_path):
    path = small_csv(edit=lambda f: f.rename(columns={"BALANCE": "bal_amt", "CUST_ID": "customer number"}))
    config = tmp_path / "map.toml"
    config.write_text('[input.columns]\nBALANCE = "bal_amt"\nCUST_ID = "customer number"\n')
    code, out, err = cli("segment", "--data", path, "--out", tmp_path / "o", "--config", config, "--k", "4")
    assert code == 0, err
    assignments = pd.read_csv(tmp_path / "o" / "assignments.csv")
    assert len(assignments) == 300 and assignments.columns.tolist() == ["CUST_ID", "segment", "persona"]


def test_ambiguous_columns_need_a_mapping(cli, small_csv, tmp_path):
    path = small_csv(edit=lambda f: f.assign(balance=f["BALANCE"]))
    code, _out, err = cli("segment", "--data", path, "--out", tmp_path / "o")
    assert code == 2 and "columns 'BALANCE', 'balance' all match BALANCE" in err


def test_gaps_are_imputed_and_counted(small_csv):
    path = small_csv(edit=_set("MINIMUM_PAYMENTS", [1, 2, 3], ""))
    base = int((pd.read_csv(path)["MINIMUM_PAYMENTS"].isna()).sum())
    _extract, clean = _load(path)
    assert clean.imputed["MINIMUM_PAYMENTS"] == base
    assert not clean.features.isna().any().any()


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
def test_repeated_ids_are_found_across_fingerprint_blocks(block):
    """The duplicate-id pre-check fingerprints the ids a block at a time and sorts two halves
    apart: a repeat is found wherever its two copies fall, and distinct ids never need the
    exact check (ids sharing long prefixes, lengths around the 8-byte words, non-ASCII)."""
    import pyarrow as pa

    from reportgen.data.validation import _may_repeat

    distinct = [f"C{i:07d}" for i in range(500)] + ["x" * n for n in range(1, 40)] + ["Müller-ß", "Müller-s", ""]
    assert not _may_repeat(pa.chunked_array([distinct]), block)
    for first, second in [(0, 1), (3, 450), (10, len(distinct) - 1), (len(distinct) - 2, len(distinct) - 1)]:
        ids = list(distinct)
        ids[second] = ids[first]
        assert _may_repeat(pa.chunked_array([ids[:200], ids[200:]]), block), (first, second)
