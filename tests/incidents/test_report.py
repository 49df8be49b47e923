"""The incident report (I2): a DOCX made with python-docx, opened again with python-docx, holds
the record's facts in Chinese: what, when (in the console's time zone), which host, what was
done, who was told, the evidence hashes, and a block to sign."""

from __future__ import annotations

import datetime
import io
from zoneinfo import ZoneInfo

from docx import Document

from server.incidents.report import build_report
from server.incidents.store import (
    acknowledge,
    add_note,
    close,
    load_record,
    open_incident,
    record_event,
)
from tests.incidents.helpers import failing_alert
from tests.server.conftest import Server, SignedAgent

SHA_A = "0123456789abcdef" * 4
SHA_B = "fedcba9876543210" * 4


def document_text(data: bytes) -> str:
    """Every paragraph and table cell of the document, as a person reading it sees them."""
    document = Document(io.BytesIO(data))
    parts = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def test_the_report_holds_the_record_facts(server: Server, agent: SignedAgent) -> None:
    alert_id = failing_alert(server, agent)
    with server.state.sessions() as session:
        incident = open_incident(
            session, "olga", alert_id=alert_id, title="网站上传目录发现网页后门"
        ).incident
        number = incident.id
        record_event(
            session,
            host_id=agent.agent_id,
            kind="isolated",
            text="olga 已将主机断网隔离：发现网页后门",
            actor="olga",
        )
        record_event(
            session,
            incident_id=number,
            kind="evidence",
            text="现场快照已上传",
            actor="agent",
            details={"sha256": SHA_A, "name": "snapshot-1.tar"},
        )
        record_event(
            session,
            incident_id=number,
            kind="evidence",
            text="第二份快照",
            actor="agent",
            details={"sha256": SHA_B},
        )
        session.commit()
        add_note(session, number, "olga", "已删除 /var/www/upload/shell.php")
        acknowledge(session, number, "zhu-ren")
        close(session, number, "zhu-ren", "已清除后门并修补上传漏洞")
        record = load_record(session, number)
        opened_at = record.incident.opened_at
        data = build_report(record, timezone="Asia/Shanghai", generated_by="zhu-ren")
    text = document_text(data)
    local = opened_at.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo("Asia/Shanghai"))
    for fact in (
        "网络与信息安全事件报告",
        f"#{number}",
        "网站上传目录发现网页后门",
        "严重",  # the severity, in Chinese
        "pc-101",
        agent.agent_id,
        local.strftime("%Y-%m-%d %H:%M:%S"),  # when, in the console's zone
        f"#{alert_id}",
        "accounts.uid0_extra / user:toor",
        "断网隔离",
        "olga 已将主机断网隔离：发现网页后门",
        "已删除 /var/www/upload/shell.php",
        "zhu-ren 已确认",
        "已清除后门并修补上传漏洞",
        "已关闭",
        "snapshot-1.tar",
        SHA_A,
        SHA_B,
        "信息中心负责人（签字）",
        "分管领导（签字）",
        "单位（盖章）",
    ):
        assert fact in text, fact
    assert Document(io.BytesIO(data)).core_properties.title == f"网络与信息安全事件报告 #{number}"


def test_a_report_without_evidence_or_escalation_says_so(
    server: Server, agent: SignedAgent
) -> None:
    with server.state.sessions() as session:
        number = open_incident(session, "olga", host_id=agent.agent_id).incident.id
        text = document_text(
            build_report(load_record(session, number), timezone="UTC", generated_by="olga")
        )
    assert "本事件未保存现场证据" in text
    assert "尚未通过通知渠道上报" in text
    assert "无（事件由人工创建）" in text
    assert "处理中（未确认）" in text
