"""The executive story and sized actions: eligible customers, control groups, true sentences,
the closed loop, and the summary every format shows."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reportgen.api import build
from reportgen.config import load_settings
from reportgen.data.synth_files import write_synth
from reportgen.errors import ConfigError
from reportgen.monthly.history import load_campaigns
from reportgen.monthly.message import render_summary
from reportgen.report.formatting import format_money
from reportgen.segmentation.actions import hold_out
from reportgen.segmentation.personas import load_playbook
from reportgen.segmentation.rules import SEGMENT_FIELDS, parse_rule

PLAYBOOK = Path(__file__).resolve().parents[1] / "data" / "personas.toml"


# -- a checker: every printed segment sentence holds for that segment's numbers -----------------


def segment_fields_from_model(segment) -> dict[str, float]:
    """The segment fields recomputed from the report model alone (profile means against the
    portfolio's, KPIs), independently of the code that chose the sentences."""
    fields = {}
    for row in segment.profile:
        fields[row.feature] = row.mean
        fields[f"{row.feature}_INDEX"] = 100 * row.mean / row.portfolio_mean if row.portfolio_mean else 100.0
    kpis = {k.key: k.value for k in segment.kpis}
    fields["CUSTOMER_SHARE"] = segment.share
    fields["CASH_ADVANCE_USERS"] = kpis["cash_advance_users"]
    return fields


def contradicted_sentences(model, playbook) -> list[str]:
    """Printed playbook sentences whose condition does not hold for their segment's numbers, and
    sentences whose condition holds but are missing (the checker's list of faults)."""
    faults = []
    personas = {p.key: p for p in playbook.personas}
    for segment in model.segments:
        persona = personas.get(segment.persona_key)
        if persona is None:
            continue
        fields = segment_fields_from_model(segment)
        printed = segment.description + " " + " ".join(segment.risks)
        for sentence in (*persona.description, *persona.risks):
            needed = [c for c in sentence.when.clauses if c.field != "PURCHASERS"]
            # rounding in the model (4 decimals) can flip a comparison sitting on its threshold
            holds = all(_holds(fields[c.field], c) for c in needed)
            borderline = any(abs(fields[c.field] - c.value) < 1e-3 * max(1, abs(c.value)) for c in needed)
            if sentence.text in printed and not holds and not borderline:
                faults.append(f"{segment.name}: printed but false: {sentence.text}")
            if sentence.text not in printed and holds and not borderline:
                faults.append(f"{segment.name}: true but not printed: {sentence.text}")
    return faults


def _holds(value, clause) -> bool:
    return bool(parse_rule(f"{clause.field} {clause.op} {clause.value}", fields=SEGMENT_FIELDS, where="t").holds(
        {clause.field: value}))


# -- playbook rules ---------------------------------------------------------------------------


def test_playbook_rules_are_checked_at_load(tmp_path):
    text = PLAYBOOK.read_text(encoding="utf-8").replace('eligible = "CASH_ADVANCE > 0"', 'eligible = "CASH_ADVANSE > 0"')
    bad = tmp_path / "personas.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_playbook(bad)
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "Revolvers" in message and "cash-to-instalment" in message and "CASH_ADVANSE" in message
    bad.write_text(PLAYBOOK.read_text(encoding="utf-8").replace('kpi = "active"', 'kpi = "revenue"', 1), encoding="utf-8")
    with pytest.raises(ConfigError, match="Dormant Users.*reactivation.*unknown kpi 'revenue'"):
        load_playbook(bad)
    bad.write_text(PLAYBOOK.read_text(encoding="utf-8").replace('when = "UTILISATION >= 0.6"', 'when = "UTILISATION >> 0.6"'),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="Revolvers.*description.*cannot read condition"):
        load_playbook(bad)


def test_bad_playbook_exits_3_with_one_line(tmp_path, cli):
    bad = tmp_path / "personas.toml"
    bad.write_text(PLAYBOOK.read_text(encoding="utf-8").replace('priority = "high"', 'priority = "urgent"', 1),
                   encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[personas]\nplaybook = "{bad.name}"\n', encoding="utf-8")
    code, _out, err = cli("segment", "--config", config, "--out", tmp_path / "o")
    assert code == 3
    assert "High Balance Holders" in err and "balance-transfer" in err and "urgent" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_control_groups_are_seeded_and_sized():
    a, b = hold_out(1000, 0.1, 42, "2026-11/0/x"), hold_out(1000, 0.1, 42, "2026-11/0/x")
    assert a.sum() == 100 and (a == b).all()
    assert not (a == hold_out(1000, 0.1, 42, "2026-12/0/x")).all()
    assert hold_out(5, 0.1, 1, "k").sum() == 0 and hold_out(0, 0.1, 1, "k").size == 0


def test_config_sets_period_and_control_share(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[input]\nperiod_months = 12\n[actions]\ncontrol_share = 0.2\n", encoding="utf-8")
    settings = load_settings(config)
    assert settings.input.period_months == 12 and settings.actions.control_share == 0.2
    config.write_text("[actions]\ncontrol_share = 0.9\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="control_share"):
        load_settings(config)


def test_an_action_with_too_few_eligible_customers_is_not_recommended(tmp_path):
    """The bundled sample's High Balance Holders have one customer eligible for limit reviews: too
    few to act on or to hold out a control group. With the default minimum (30) that action is
    named as withheld on the recommendations page and appears nowhere else (no row, no target
    list, no campaign members); with ``min_eligible = 1`` it is listed like any other."""
    import duckdb

    out = build(formats="html", out=tmp_path / "out", month="2026-11").files
    month = tmp_path / "out" / "2026-11"
    model = json.loads((month / "report-model.json").read_text(encoding="utf-8"))
    assert model["facts"]["min_eligible"] == 30
    small = [a for a in model["actions"] if a["eligible"] < 30]
    assert small == [] and len(model["facts"]["withheld"]) == 1
    withheld = model["facts"]["withheld"][0]
    assert withheld.startswith("High Balance Holders – Pre-approve limit reviews") and withheld.endswith("(1 eligible)")
    html = next(p for p in out if p.suffix == ".html").read_text(encoding="utf-8")
    assert "at least 30 customers are eligible" in html and f"Not listed this month: {withheld}." in html
    recommendations = pd.read_csv(month / "targets" / "recommendations.csv")
    assert "limit-review" not in set(recommendations["Action key"])
    assert not list((month / "targets").glob("*--limit-review.csv"))
    with duckdb.connect(str(tmp_path / "out" / "history.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM campaign_actions WHERE action = 'limit-review'").fetchone()[0] == 0

    config = tmp_path / "c.toml"
    config.write_text("[actions]\nmin_eligible = 1\n", encoding="utf-8")
    build(formats="html", out=tmp_path / "one", month="2026-11", config=config)
    listed = json.loads((tmp_path / "one" / "2026-11" / "report-model.json").read_text(encoding="utf-8"))
    assert listed["facts"]["withheld"] == [] and len(listed["actions"]) == len(model["actions"]) + 1
    assert list((tmp_path / "one" / "2026-11" / "targets").glob("*--limit-review.csv"))


def test_min_eligible_must_be_a_positive_count(tmp_path):
    config = tmp_path / "c.toml"
    for bad in ("0", "2.5", '"30"'):
        config.write_text(f"[actions]\nmin_eligible = {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="min_eligible"):
            load_settings(config)


# -- the real file ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    from conftest import real_data_path

    path = real_data_path()
    if path is None:
        pytest.skip("real file not found: set REPORTGEN_REAL_DATA or place ../shared/data/CC GENERAL.csv")
    out = tmp_path_factory.mktemp("real")
    outcome = build(path, formats=("pdf", "pptx", "html"), out=out, month="2026-11")
    return outcome, out / "2026-11"


def test_real_summary_names_actions_with_counts_and_money(real_build):
    outcome, folder = real_build
    model = outcome.model
    assert len(model.story.actions) == 3
    top = [a for a in model.actions if a.kpi][:3]
    assert [a.impact for a in top] == sorted((a.impact for a in top), reverse=True)
    for action, line in zip(top, model.story.actions):
        assert f"{action.eligible:,}" in line and "$" in line
    # the summary page of the PDF (page 2, after the cover and contents) and slide 3 carry the actions
    page = subprocess.run(["pdftotext", "-f", "2", "-l", "2", "-layout", str(folder / "segment-report-2026-11.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "Recommended actions" in page and "6 months" in page
    for action in top:
        assert f"{action.eligible:,}" in page
    from pptx import Presentation

    slide = Presentation(str(folder / "segment-report-2026-11.pptx")).slides[2]
    text = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
    assert "Executive summary" in text and "Recommended actions" in text
    for action in top:
        assert f"{action.eligible:,} eligible customers" in text
    # every amount says its period
    assert "over the extract's 6 months" in model.story.situation and "a month" in model.story.situation


def test_real_segment_sentences_hold(real_build):
    outcome, _ = real_build
    playbook = load_playbook(PLAYBOOK)
    assert contradicted_sentences(outcome.model, playbook) == []
    # the examples: no segment is said to carry large balances below the portfolio's
    for segment in outcome.model.segments:
        balance = next(r for r in segment.profile if r.feature == "BALANCE")
        if "carry large balances" in segment.description:
            assert balance.mean > balance.portfolio_mean
        cash = next(k.value for k in segment.kpis if k.key == "cash_advance_users")
        if "rarely take cash advances" in segment.description:
            assert cash <= 0.3
        # "close to the portfolio's" means within half as much again either way, not half of it
        if "close to the portfolio's" in segment.description:
            purchases = next(r for r in segment.profile if r.feature == "PURCHASES")
            for row in (balance, purchases):
                assert 2 / 3 <= row.mean / row.portfolio_mean <= 1.5, (segment.name, row.feature)
        # "most of their credit limit" holds for the customers' mean utilisation (as the playbook's
        # conditions read it) and for the segment's balance / limit printed beside it (55.6% and
        # 57.4% on this file, where "close to their limit" used to stand)
        utilisation = segment_fields_from_model(segment)["UTILISATION"]
        tile = next(k.value for k in segment.kpis if k.key == "utilisation")
        if "most of their credit limit" in " ".join([segment.description, *segment.risks]):
            assert utilisation >= 0.6 and tile > 0.5, segment.name
        assert "close to their limit" not in segment.description and "close to the limit" not in " ".join(segment.risks)


def test_real_target_lists_hold_eligible_customers_and_controls(real_build):
    outcome, folder = real_build
    for action in outcome.model.actions:
        files = list((folder / "targets").glob(f"targets-*--{action.key}.csv"))
        assert len(files) == 1, action.key
        frame = pd.read_csv(files[0], dtype={"CUST_ID": str})
        assert tuple(frame.columns) == ("CUST_ID", "segment", "action", "group")
        assert (frame["action"] == action.key).all()
        assert len(frame) == action.eligible and frame["CUST_ID"].is_unique
        assert (frame["group"] == "control").sum() == action.control
        # the figures are one join away, in the segment's list (every listed customer is in it)
        segment_list = pd.read_csv(files[0].with_name(files[0].name.split("--")[0] + ".csv"), dtype={"CUST_ID": str})
        frame = frame.merge(segment_list, on=["CUST_ID", "segment"], how="left", validate="one_to_one")
        assert frame["BALANCE"].notna().all() and (frame["segment"] == action.segment_id).all()
        if action.kpi:
            assert action.control == round(0.1 * action.eligible)
        if action.key == "cash-to-instalment":
            assert (frame["CASH_ADVANCE"] > 0).all()
        if action.key == "limit-increase":
            assert (frame["PRC_FULL_PAYMENT"] >= 0.5).all() and (frame["UTILISATION"] < 0.5).all()


# -- six synthetic months with a planted campaign effect -----------------------------------------


@pytest.fixture(scope="module")
def six_months(tmp_path_factory):
    root = tmp_path_factory.mktemp("six")
    write_synth(3000, root / "data", seed=11, months=6)  # as `reportgen synth --customers 3000 --months 6 --seed 11`
    out = root / "out"
    outcomes = {}
    for m in range(1, 7):
        month = f"2026-{m:02d}"
        data = root / "data" / f"customers-{month}.csv"
        if m == 5:
            _plant_effect(data, out / "2026-04" / "targets")
        formats = ("html", "pptx", "pdf", "dashboard") if m >= 5 else ("html",)
        outcomes[month] = build(data, formats=formats, out=out, month=month)
    return outcomes, out


def _plant_effect(data: Path, targets: Path) -> None:
    """Month 4's cash-advance action worked: 60% of its treated customers take no cash advance in
    month 5; its control customers are left as they are."""
    (listing,) = targets.glob("targets-*--cash-to-instalment.csv")
    members = pd.read_csv(listing, dtype={"CUST_ID": str})
    treated = members.loc[members["group"] == "target", "CUST_ID"]
    chosen = set(treated.sample(frac=0.6, random_state=3))
    frame = pd.read_csv(data, dtype={"CUST_ID": str})
    hit = frame["CUST_ID"].isin(chosen)
    for column in ("CASH_ADVANCE", "CASH_ADVANCE_FREQUENCY", "CASH_ADVANCE_TRX"):
        frame.loc[hit, column] = 0
    frame.to_csv(data, index=False)


def test_month_five_detects_the_planted_effect(six_months):
    outcomes, _ = six_months
    effects = {e.key: e for e in outcomes["2026-05"].model.effects}
    effect = effects["cash-to-instalment"]
    assert effect.month_from == "2026-04"
    assert effect.control >= 30 and effect.p_value < 0.001
    assert effect.difference > 0.3 and effect.low > 0.2
    assert "did better" in effect.verdict
    # in plain words for executives: how often chance gives such a gap, not a test's name and p-value
    assert "less than once in 1,000" in effect.verdict and "Fisher" not in effect.verdict and "p =" not in effect.verdict
    # the effect is the story's first point
    assert outcomes["2026-05"].model.story.points[0] == effect.verdict


def test_small_actions_say_not_enough_customers(six_months):
    outcomes, _ = six_months
    small = [e for e in outcomes["2026-05"].model.effects if min(e.treated, e.control) < 30]
    for effect in small:
        assert effect.p_value is None and effect.verdict.endswith("Not enough customers to tell.")


def test_month_five_formats_agree(six_months):
    outcomes, out = six_months
    model = outcomes["2026-05"].model
    folder = out / "2026-05"
    first = model.story.actions[0]
    html = (folder / "segment-report-2026-05.html").read_text(encoding="utf-8")
    pdf = subprocess.run(["pdftotext", str(folder / "segment-report-2026-05.pdf"), "-"], capture_output=True,
                         text=True, check=True).stdout
    text, _ = render_summary(json.loads((folder / "report-model.json").read_text(encoding="utf-8")), "2026-05", [])
    assert first in text and model.story.situation in text
    top = [a for a in model.actions if a.kpi][0]
    for document in (html, " ".join(pdf.split())):
        assert f"{top.eligible:,}" in document and top.text in document
    from pptx import Presentation

    slide = Presentation(str(folder / "segment-report-2026-05.pptx")).slides[2]
    deck_text = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
    assert " ".join(first.split()) in " ".join(deck_text.split())


def test_six_months_keep_actions_and_record_members(six_months):
    outcomes, out = six_months
    import duckdb

    con = duckdb.connect(str(out / "history.duckdb"), read_only=True)
    counts = dict(con.execute("SELECT a.month, count(*) FROM campaign_rows r JOIN campaign_actions a USING (action_id) "
                              "GROUP BY 1").fetchall())
    con.close()
    assert counts["2026-06"] == len(load_campaigns(out / "history.duckdb", "2026-06"))
    assert sorted(counts) == [f"2026-{m:02d}" for m in range(1, 7)]
    model = outcomes["2026-06"].model
    recorded = sum(a.eligible for a in model.actions if a.kpi)
    assert counts["2026-06"] == recorded
    assert model.history is not None and model.history.migration is not None
    assert np.all([a.eligible > 0 for a in model.actions])


def test_month_six_ranks_movements_and_tells_at_risk_moves_apart(six_months):
    outcomes, _ = six_months
    model = outcomes["2026-06"].model
    migration = model.history.migration
    assert migration.at_risk, "the synthetic months plant movers into at-risk segments"
    # at-risk moves come first in what changed, and in the story
    assert model.changes[: len(migration.at_risk)] == migration.at_risk
    assert model.story.points[0] == migration.at_risk[0]
    dormant = [line for line in migration.at_risk if "went dormant" in line]
    revolvers = [line for line in migration.at_risk if "credit follow-up" in line]
    assert dormant and revolvers and not set(dormant) & set(revolvers)
    assert all("$" in line for line in migration.at_risk)
    # sizes are compared with the first month of the history and with last month
    assert any("since January 2026 and" in line and "since May 2026" in line for line in model.changes)


@pytest.mark.parametrize("month", ["2026-05", "2026-06"])
def test_the_story_agrees_in_the_dashboard_pdf_deck_and_e_mail(six_months, month):
    """Month 5 leads with the planted effect, month 6 with the largest at-risk move: the same
    sentences in every deliverable, and the actions with their counts."""
    import html as markup

    outcomes, out = six_months
    model = outcomes[month].model
    folder = out / month
    lead = model.story.points[0]
    if month == "2026-05":
        assert lead == {e.key: e for e in model.effects}["cash-to-instalment"].verdict
    else:
        assert lead == model.history.migration.at_risk[0]
    dashboard = markup.unescape((folder / f"segment-dashboard-{month}.html").read_text(encoding="utf-8"))
    pdf = " ".join(subprocess.run(["pdftotext", str(folder / f"segment-report-{month}.pdf"), "-"],
                                  capture_output=True, text=True, check=True).stdout.split())
    mail, _html = render_summary(json.loads((folder / "report-model.json").read_text(encoding="utf-8")), month, [])
    from pptx import Presentation

    summary = Presentation(str(folder / f"segment-report-{month}.pptx")).slides[2]
    deck = " ".join(" ".join(s.text_frame.text for s in summary.shapes if s.has_text_frame).split())
    for point in model.story.points:
        assert point in dashboard and " ".join(point.split()) in pdf and point in mail
        assert " ".join(point.split()) in deck
    top = [a for a in model.actions if a.kpi][0]
    for document in (dashboard, pdf, mail, deck):
        assert f"{top.eligible:,}" in document and top.text in document


def test_moves_into_dormant_are_valued_with_last_months_spend(six_months):
    """The history keeps every customer's balance, purchases and cash advance (float32), so month 6
    values the customers who went dormant with what they bought in month 5, not with this month's
    near-zero spend, and names the Frequent Spenders among them."""
    import duckdb

    outcomes, out = six_months
    model = outcomes["2026-06"].model
    con = duckdb.connect(str(out / "history.duckdb"), read_only=True)
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'assignments'").fetchall())
    assert {types[c] for c in ("balance", "purchases", "cash_advance")} == {"FLOAT"}
    moved = con.execute(
        "SELECT a.name, count(*), sum(CAST(a.purchases AS DOUBLE)), sum(b.purchases) FROM assignments a "
        "JOIN assignments b ON a.cust_id = b.cust_id AND b.month = '2026-06' "
        "WHERE a.month = '2026-05' AND b.name = 'Dormant Users' AND a.name <> 'Dormant Users' GROUP BY 1"
    ).fetchall()
    con.close()
    count = sum(r[1] for r in moved)
    before, now = sum(r[2] for r in moved), sum(r[3] for r in moved)
    assert before > 10 * max(now, 1)  # this month's spend would hide the loss
    spenders = next(r for r in moved if r[0] == "Frequent Spenders")
    (line,) = [line for line in model.history.migration.at_risk if "went dormant" in line]
    assert line.startswith(f"{count:,} customers went dormant this month")
    assert f"they had bought {format_money(before, compact=True)} over 6 months" in line
    assert f"{format_money(spenders[2], compact=True)} of it by the {spenders[1]:,} Frequent Spenders among them" in line


def test_scored_months_say_when_the_model_was_fitted(six_months):
    outcomes, out = six_months
    model = outcomes["2026-05"].model
    assert model.monitoring.mode == "score"
    assert model.k_choice.how == "kept from the model fitted in January 2026, scored since"
    assert "--refit" not in model.k_choice.reason
    html = (out / "2026-05" / "segment-report-2026-05.html").read_text(encoding="utf-8")
    assert "kept from the model fitted in January 2026, scored since" in html and "set by the user" not in html
    from pptx import Presentation

    deck = Presentation(str(out / "2026-05" / "segment-report-2026-05.pptx"))
    text = " ".join(s.text_frame.text for slide in deck.slides for s in slide.shapes if s.has_text_frame)
    cells = " ".join(cell.text for slide in deck.slides for s in slide.shapes if s.has_table
                     for row in s.table.rows for cell in row.cells)
    assert "set by the user" not in text + cells and "(kept from the model fitted in January 2026, scored since)" in cells
