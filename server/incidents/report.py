"""The incident report for the higher authority (POLICY.md I2, 逐级汇报): a DOCX in Chinese made
from the record with python-docx, which an office prints, signs and files.

What it says, in this order: the facts (what, severity, host, when opened, acknowledged and
closed, by whom), the alerts it started from, what was done (the timeline: notes, escalations,
isolation and evidence as their features record them), who was told up the chain, the evidence
hashes (every timeline event with ``details["sha256"]``), and a block to sign. Times are in the
console's time zone. Nothing here reads the database: ``build_report`` takes a loaded
``Record``, so the page, the API and the CLI give the same document.
"""

from __future__ import annotations

import datetime
import io
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from server.incidents.escalation import tier_title
from server.incidents.models import status_of
from server.incidents.store import Record
from server.notify import Severity
from server.notify.render import KIND_LABELS, SEVERITY_LABELS

if TYPE_CHECKING:
    from docx.document import Document as WordDocument

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FONT = "宋体"  # SimSun: on every Chinese office PC, and what such reports are set in
STATUS_ZH = {"open": "处理中（未确认）", "acknowledged": "处理中（已确认）", "closed": "已关闭"}
EVENT_ZH = {
    "opened": "创建事件",
    "alert": "关联告警",
    "note": "处置记录",
    "acknowledged": "确认",
    "escalated": "逐级汇报",
    "closed": "关闭事件",
    "isolated": "断网隔离",
    "released": "解除隔离",
    "evidence": "现场取证",
}
DELIVERY_ZH = {
    "sent": "已送达",
    "pending": "待发送",
    "failed": "发送失败",
    "stopped": "已确认，未再发送",
}
SIGNATURES = ("填报人", "信息中心负责人", "分管领导")


def report_filename(incident_id: int) -> str:
    return f"incident-{incident_id}-report.docx"


def _when(moment: datetime.datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return "—"
    return moment.replace(tzinfo=datetime.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _severity(value: str) -> str:
    try:
        return SEVERITY_LABELS[Severity(value)]["zh"]
    except ValueError:
        return value


def _alert_kind(value: str) -> str:
    for kind, labels in KIND_LABELS.items():
        if str(kind) == value:
            return labels["zh"]
    return value


def _table(document: WordDocument, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text


def build_report(
    record: Record,
    *,
    timezone: str,
    generated_by: str,
    generated_at: datetime.datetime | None = None,
) -> bytes:
    """The report as DOCX bytes. ``generated_at`` is naive UTC, as stored times are."""
    # Imported here: python-docx (with lxml) costs ~55 ms, paid by the first report rather
    # than by every server start and command.
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    zone = ZoneInfo(timezone)
    incident = record.incident
    now = generated_at or datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(11)
    # Word takes Chinese characters' font from eastAsia, which python-docx does not set.
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), FONT)
    for name in ("Title", "Heading 1", "Heading 2"):
        document.styles[name].element.get_or_add_rPr().get_or_add_rFonts().set(
            qn("w:eastAsia"), FONT
        )
    document.core_properties.title = f"网络与信息安全事件报告 #{incident.id}"
    document.core_properties.author = "xunjian"

    heading = document.add_heading("网络与信息安全事件报告", level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    line = document.add_paragraph(
        f"事件编号：#{incident.id}    报告生成：{_when(now, zone)}（{timezone}）"
        f"    生成人：{generated_by}"
    )
    line.alignment = WD_ALIGN_PARAGRAPH.CENTER

    document.add_heading("一、事件概况", level=1)
    host = incident.hostname or "—"
    if incident.agent_id:
        host = f"{host}（终端编号 {incident.agent_id}）"
    facts = [
        ("事件名称", incident.title),
        ("级别", _severity(incident.severity)),
        ("状态", STATUS_ZH[status_of(incident)]),
        ("涉及主机", host),
        ("发现时间", _when(incident.opened_at, zone)),
        ("创建人", incident.opened_by),
        (
            "确认",
            f"{_when(incident.acknowledged_at, zone)}  {incident.acknowledged_by}"
            if incident.acknowledged_at
            else "未确认",
        ),
        (
            "关闭",
            f"{_when(incident.closed_at, zone)}  {incident.closed_by}"
            if incident.closed_at
            else "未关闭",
        ),
    ]
    _table(document, ("项目", "内容"), facts)

    document.add_heading("二、相关告警", level=1)
    if record.alerts:
        _table(
            document,
            ("告警编号", "类型", "级别", "检查项 / 对象", "内容", "发生时间"),
            [
                (
                    f"#{alert.id}",
                    _alert_kind(alert.kind),
                    _severity(alert.severity),
                    " / ".join(part for part in (alert.check_id, alert.resource) if part) or "—",
                    alert.message or "—",
                    _when(alert.opened_at, zone),
                )
                for alert in record.alerts
            ],
        )
    else:
        document.add_paragraph("无（事件由人工创建）。")

    document.add_heading("三、处置经过", level=1)
    _table(
        document,
        ("时间", "事项", "操作人", "内容"),
        [
            (_when(event.at, zone), EVENT_ZH.get(event.kind, event.kind), event.actor, event.text)
            for event in record.timeline
        ],
    )

    document.add_heading("四、逐级汇报", level=1)
    if record.notifications:
        _table(
            document,
            ("层级", "通知渠道", "状态", "发送时间"),
            [
                (
                    tier_title(item.tier),
                    item.channel,
                    DELIVERY_ZH.get(item.status, item.status),
                    _when(item.sent_at, zone),
                )
                for item in record.notifications
            ],
        )
    else:
        document.add_paragraph("尚未通过通知渠道上报。")

    document.add_heading("五、现场证据", level=1)
    evidence = record.evidence()
    if evidence:
        document.add_paragraph("以下证据文件的 SHA-256 哈希可用于核对证据未被改动：")
        _table(document, ("证据", "SHA-256"), [(name, digest) for name, digest in evidence])
    else:
        document.add_paragraph("本事件未保存现场证据。")

    document.add_heading("六、审核签字", level=1)
    for role in SIGNATURES:
        document.add_paragraph(
            f"{role}（签字）：____________________    日期：______年____月____日"
        )
    document.add_paragraph("单位（盖章）：")

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
