"""The paper's rules (`--paper-compat`): the original release's arithmetic, slips included, so the
output can be put next to the paper's tables digit for digit. One value (`rules.PAPER`) that the
analyses pass through the same steps as ours (`utils/analysis/rules.py`); docs/paper-compat.md.
"""
