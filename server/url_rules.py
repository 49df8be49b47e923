"""URL rules whose URL builders are made once per process, not once per app.

Werkzeug makes two small Python functions for every URL rule when the rule is added to an app
(to build its URLs: an AST, then ``compile``). ``create_app`` adds about 160 rules, and that
was 90 % of its time: 90-200 ms of each app's 100-220 ms (cProfile, 2026-12-07). A server
process makes one app per worker, but the test suite makes about a thousand (one per test of
tests/server, each on its own data folder), so the same functions were compiled again and
again (docs/PERFORMANCE.md, "Test suite", fifth pass).

A builder depends only on what Werkzeug compiles it from: the rule's text (its name), the
parsed parts of the rule and the names of its defaults. A rule equal in those gets the
function already made; the function reads the rule itself (its converters, its query
encoding) only when called, through the rule it is bound to. A rule with a default for one
of its own variables is compiled as before: that default is turned into text by the rule's
converter while compiling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule

_BUILDERS: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


class SharedBuilderRule(Rule):
    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        defaults = self.defaults or {}
        trace = tuple(self._trace)
        if any(is_dynamic and name in defaults for is_dynamic, name in trace):
            return super()._compile_builder(append_unknown)
        key = (self.rule, trace, tuple(defaults), append_unknown)
        builder = _BUILDERS.get(key)
        if builder is None:
            builder = _BUILDERS[key] = super()._compile_builder(append_unknown)
        return builder
