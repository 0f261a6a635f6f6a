"""Reading the Python text that survey releases store in CSV cells, without evaluating any of it.

`eval` would run whatever a file holds; this parses the text as Python and takes strings, numbers
(`nan` and `inf` too), lists, tuples and dicts from it, and nothing else:

    >>> parse_literal("{1.0: 'Very safe', 99.0: \\"Don't know\\"}")
    {1.0: 'Very safe', 99.0: "Don't know"}
    >>> parse_literal("defaultdict(<class 'list'>, {'Belgium': [0.19, 0.43, 0.38]})")
    {'Belgium': [0.19, 0.43, 0.38]}
"""
from __future__ import annotations

import ast
import re
import warnings

_DEFAULTDICT = re.compile(r"^\s*defaultdict\(<class '\w+'>,\s*(.*)\)\s*$", re.S)


def parse_literal(text: str):
    """A ValueError says what in the text is no such value."""
    m = _DEFAULTDICT.match(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an unknown escape in a label ("\d") stays as written
            tree = ast.parse((m.group(1) if m else text).strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(exc.msg) from None
    return _value(tree.body)


def _value(node: ast.expr):
    if isinstance(node, ast.Constant) and type(node.value) in (str, int, float):
        return node.value
    if isinstance(node, ast.Name) and node.id in ("nan", "inf"):
        return float(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)) \
            and not isinstance(node.operand, ast.UnaryOp):
        number = _value(node.operand)
        if isinstance(number, (int, float)):
            return -number if isinstance(node.op, ast.USub) else number
    elif isinstance(node, (ast.List, ast.Tuple)):
        values = [_value(e) for e in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    elif isinstance(node, ast.Dict) and None not in node.keys:  # None: a `**` entry
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
    raise ValueError(f"unexpected {ast.unparse(node)[:40]!r}")
