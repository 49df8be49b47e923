"""Tests of the endpoint agent (state, spool, transport, enrollment, runner, status)."""
