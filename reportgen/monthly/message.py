"""The e-mails themselves: the HTML and plain-text summary an executive reads (KPIs, findings, what
changed; never customer ids) and the MIME message with its attachments.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from html import escape

from reportgen.config import Audience, EmailSettings
from reportgen.errors import ConfigError
from reportgen.monthly.attachments import Attachment, action_zip_name
from reportgen.render.formats import action_file_name, target_stems
from reportgen.report.formatting import format_count, format_share, month_label

HEADLINE_KPIS = ("customers", "balance", "purchases", "utilisation", "full_payment", "cash_advance_users")


def build_message(
    audience: Audience,
    attachments: tuple[Attachment, ...],
    model: dict,
    email: EmailSettings,
    month: str,
    now: datetime,
) -> EmailMessage:
    """The message for ``audience``: headers, the summary (plain text and HTML) and attachments."""
    title = str(model.get("facts", {}).get("title") or "Customer Segmentation Report")
    label = month_label(month)
    subject = (audience.subject or "{title}: {month}").replace("{title}", title).replace("{month}", label)
    names = [a.name for a in attachments]
    message = EmailMessage()
    try:
        message["Subject"] = subject
        message["From"] = email.sender
        message["To"] = ", ".join(audience.to)
        message["X-Reportgen-Audience"] = audience.name
    except ValueError as exc:  # a line break in a header would let config text add headers
        raise ConfigError(f"[email.audiences.{audience.name}]: {exc}") from None
    message["X-Reportgen-Month"] = month
    message["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=timezone.utc))
    message["Message-ID"] = make_msgid(
        idstring=f"reportgen.{month}.{_safe_name(audience.name)}", domain=_domain(email.sender)
    )
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    text, html = render_summary(model, month, names)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for item in attachments:
        message.add_attachment(item.data, maintype=item.maintype, subtype=item.subtype, filename=item.name)
    return message


def render_summary(model: dict, month: str, attachments: list[str]) -> tuple[str, str]:
    """The e-mail body as (plain text, HTML) from the report model's JSON tree.

    Reads only ``facts.title``, ``kpis``, ``segments`` (name, customers, share), ``story``
    (the executive summary: situation, points, actions, period) and the optional ``changes``: never customer ids.
    """
    title = str(model.get("facts", {}).get("title") or "Customer Segmentation Report")
    label = month_label(month)
    kpis = _headline_kpis(model.get("kpis") or [])
    segments = [
        (str(s.get("name", "")), format_count(s.get("customers") or 0), format_share(s.get("share") or 0))
        for s in model.get("segments") or []
    ]
    story = model.get("story") or {}
    situation = str(story.get("situation") or "")
    findings = [str(f) for f in story.get("points") or []]
    actions = [str(a) for a in story.get("actions") or []]
    period = str(story.get("period") or "")
    actions += [str(e) for e in story.get("effects") or [] if str(e) not in findings]  # said once
    changes = _changes(model.get("changes"))

    lines = [f"{title}: {label}", ""] + ([situation, ""] if situation else [])
    lines += ["Headline figures"] + [f"- {k}: {v}" for k, v in kpis] + [""]
    lines += ["Segments"] + [f"- {n}: {c} customers ({s})" for n, c, s in segments] + [""]
    lines += ["What matters most"] + [f"- {f}" for f in findings] + [""]
    if actions:
        lines += ["Recommended actions"] + [f"- {a}" for a in actions] + [""]
    if period:
        lines += [period, ""]
    if changes:
        lines += ["What changed since last month"] + [f"- {c}" for c in changes] + [""]
    listed = _action_lists(model) if action_zip_name(month) in attachments else []
    if listed:
        lines += [f"Target lists by action (in {action_zip_name(month)}; rows flagged control: do not contact)"]
        lines += [f"- {segment}: {text}: {eligible} eligible, {control} control, {contact} to contact ({name})"
                  for segment, text, eligible, control, contact, name in listed] + [""]
    if attachments:
        lines += ["Attached"] + [f"- {a}" for a in attachments] + [""]
    lines += ["This message was sent automatically by reportgen."]

    e = escape
    cell = 'style="padding:2px 12px 2px 0"'
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>' + e(title) + "</title></head>",
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222">',
        f"<h1 style=\"font-size:20px\">{e(title)}: {e(label)}</h1>",
        *([f"<p>{e(situation)}</p>"] if situation else []),
        "<h2 style=\"font-size:16px\">Headline figures</h2><table>",
        *(f"<tr><td {cell}>{e(k)}</td><td {cell}><strong>{e(v)}</strong></td></tr>" for k, v in kpis),
        "</table>",
        "<h2 style=\"font-size:16px\">Segments</h2><table>",
        f"<tr><th {cell} align=\"left\">Segment</th><th {cell} align=\"right\">Customers</th>"
        f"<th {cell} align=\"right\">Share</th></tr>",
        *(
            f"<tr><td {cell}>{e(n)}</td><td {cell} align=\"right\">{e(c)}</td>"
            f"<td {cell} align=\"right\">{e(s)}</td></tr>"
            for n, c, s in segments
        ),
        "</table>",
        "<h2 style=\"font-size:16px\">What matters most</h2><ol>",
        *(f"<li>{e(f)}</li>" for f in findings),
        "</ol>",
    ]
    if actions:
        parts += ["<h2 style=\"font-size:16px\">Recommended actions</h2><ol>"]
        parts += [f"<li>{e(a)}</li>" for a in actions] + ["</ol>"]
    if period:
        parts += [f"<p style=\"color:#666;font-size:12px\">{e(period)}</p>"]
    if changes:
        parts += ["<h2 style=\"font-size:16px\">What changed since last month</h2><ul>"]
        parts += [f"<li>{e(c)}</li>" for c in changes] + ["</ul>"]
    if listed:
        parts += [f"<h2 style=\"font-size:16px\">Target lists by action</h2><p>In {e(action_zip_name(month))}, one "
                  "file per action. Rows flagged <code>control</code> are the control group: do not contact them, "
                  "so next month's report can measure the action.</p><table>",
                  f"<tr><th {cell} align=\"left\">Segment</th><th {cell} align=\"left\">Action</th>"
                  f"<th {cell} align=\"right\">Eligible</th><th {cell} align=\"right\">Control</th>"
                  f"<th {cell} align=\"right\">To contact</th><th {cell} align=\"left\">File</th></tr>"]
        parts += [f"<tr><td {cell}>{e(segment)}</td><td {cell}>{e(text)}</td><td {cell} align=\"right\">{e(eligible)}</td>"
                  f"<td {cell} align=\"right\">{e(control)}</td><td {cell} align=\"right\">{e(contact)}</td>"
                  f"<td {cell}>{e(name)}</td></tr>" for segment, text, eligible, control, contact, name in listed]
        parts += ["</table>"]
    if attachments:
        parts += ["<p>Attached: " + ", ".join(e(a) for a in attachments) + ".</p>"]
    parts += ['<p style="color:#666;font-size:12px">This message was sent automatically by reportgen.</p>']
    parts += ["</body></html>"]
    return "\n".join(lines) + "\n", "\n".join(parts) + "\n"


def _action_lists(model: dict) -> list[tuple[str, str, str, str, str, str]]:
    """Every action of the model with its counts and its target list's file name:
    (segment, text, eligible, control, to contact, file), largest money at stake first."""
    segments = model.get("segments") or []
    stems = target_stems((s["id"], s.get("name", ""), s.get("persona_key")) for s in segments)
    rows = []
    for a in model.get("actions") or []:
        if a.get("segment_id") not in stems or not a.get("key"):
            continue
        eligible, control = int(a.get("eligible") or 0), int(a.get("control") or 0)
        rows.append((str(a.get("segment", "")), str(a.get("text", "")), format_count(eligible), format_count(control),
                     format_count(eligible - control), action_file_name(stems[a["segment_id"]], a["key"])))
    return rows


def _headline_kpis(kpis: list) -> list[tuple[str, str]]:
    by_key = {k.get("key"): k for k in kpis if isinstance(k, dict)}
    chosen = [by_key[k] for k in HEADLINE_KPIS if k in by_key] or [k for k in kpis if isinstance(k, dict)][:6]
    return [(str(k.get("label", k.get("key", ""))), str(k.get("display", k.get("value", "")))) for k in chosen]


def _changes(value) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = item.get("text") if isinstance(item, dict) else item
        if text:
            out.append(str(text))
    return out


def _domain(sender: str | None) -> str:
    address = parseaddr(sender or "")[1]
    return address.rpartition("@")[2] or "reportgen.invalid"


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "audience"
