"""Web-shell signatures and sensitive words: real shell shapes caught, ordinary code not."""

from __future__ import annotations

import pytest

from agent.watch.screening import screen, signatures

SHELLS = {
    "php.eval_request": b"<?php @eval($_POST['pass']);?>",
    "php.eval_decoded": b"<?php eval(base64_decode('ZWNobyAxOw=='));",
    "php.exec_request": b"<?php system($_GET['cmd']); ?>",
    "php.backtick_request": b"<?php echo `$_REQUEST[c]`; ?>",
    "php.preg_replace_e": b"<?php preg_replace('/.*/e', $_POST['code'], '');",
    "php.create_function_request": b"<?php $f=create_function('', $_POST['x']); $f();",
    "php.variable_function_request": b"<?php $_GET['a']($_POST['b']); ?>",
    "jsp.runtime_exec_request": b'<% Runtime.getRuntime().exec(request.getParameter("c")); %>',
    "jsp.processbuilder_request": b'<% new ProcessBuilder(request.getParameter("c")).start(); %>',
    "jsp.classloader_define": (
        b"class U extends ClassLoader{ Class g(byte []b){return super.defineClass(b,0,b.length);}}"
        b" new U().g(new sun.misc.BASE64Decoder().decodeBuffer(k));"
    ),
    "asp.eval_request": b'<%eval request("chopper")%>',
    "aspx.eval_request": b'<%@ Page Language="C#" %><% eval(Request.Item["z"]); %>',
    "aspx.jscript_unsafe": b'<%@ Page Language="Jscript"%><%eval(Request.Item["p"],"unsafe");%>',
    "asp.wscript_shell_request": (
        b'<% Set s = CreateObject("WScript.Shell") : s.Exec(request("cmd")) %>'
    ),
}

BENIGN = [
    b"<?php $name = htmlspecialchars($_POST['name']); echo \"Hello $name\"; ?>",
    b"<?php $config = eval_config($settings); system_status(); ?>",
    b'<% String q = request.getParameter("q"); out.println(q); %>',
    b"function evaluate(request) { return request.items; }",
    "学校通知：本周五下午召开家长会。".encode(),
]


def test_every_shipped_signature_has_a_sample() -> None:
    assert {name for name, _ in signatures()} == set(SHELLS)


@pytest.mark.parametrize("name", sorted(SHELLS))
def test_shell_is_caught(name: str) -> None:
    rules = {finding.rule for finding in screen(SHELLS[name]) if finding.kind == "webshell"}
    assert name in rules, rules


@pytest.mark.parametrize("content", BENIGN)
def test_ordinary_code_is_not_a_shell(content: bytes) -> None:
    assert screen(content) == []


def test_sensitive_words_in_utf8_and_gbk_any_case_for_ascii() -> None:
    words = ("绝密", "Confidential")
    for data in ("这份文件绝密".encode(), "这份文件绝密".encode("gbk"), b"CONFIDENTIAL memo"):
        assert [f.kind for f in screen(data, words)] == ["sensitive_word"], data
    assert screen("公开文件".encode("gbk"), words) == []
    found = screen(b"<?php @eval($_POST['x']); // confidential", words)
    assert [(f.kind, f.rule) for f in found] == [
        ("webshell", "php.eval_request"),
        ("sensitive_word", "Confidential"),
    ]


def test_screening_can_skip_signatures() -> None:
    assert screen(SHELLS["php.eval_request"], (), webshells=False) == []
