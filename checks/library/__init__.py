"""The checks themselves: pure functions from facts and parameters to findings.

Each module groups one category. A check reads facts only through `Facts` and never touches the
operating system, so it is tested from tables of facts.
"""
