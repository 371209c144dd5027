"""Text from a document, written into generated Python (model.py, train.py) so that it stays text.

A document is data a user may have been given: its title, block names and params must never become code
of their own in a file we generate. Everything that reaches generated source goes through one of these:
`literal` (a value as a Python literal, repr-style), `identifier` (a name, checked), `docstring` and
`comment` (free text, escaped). Each either writes a safe piece of source or raises GeneratedCodeError.
"""
from __future__ import annotations

import keyword
import math

from ..base.errors import NetbuilderError


class GeneratedCodeError(NetbuilderError):
    """A value from the document that cannot be written into generated code as it is."""


def literal(value: object) -> str:
    """A value as a Python literal: None, bools, ints, finite floats, strings (escaped as repr does),
    slices, and lists, tuples and dicts of these. Anything else is refused."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if value is Ellipsis:
        return "..."
    if type(value).__name__ == "dtype" and type(value).__module__ == "torch":  # torch.float32 and the like
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise GeneratedCodeError(f"{value!r} cannot be written as a number in generated code")
        return repr(value)
    if isinstance(value, slice):
        parts = ["" if v is None else literal(v) for v in (value.start, value.stop, value.step)]
        return ":".join(parts[:2]) if value.step is None else ":".join(parts)
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise GeneratedCodeError(f"a {type(value).__name__} cannot be written into generated code")


def is_identifier(name: object) -> bool:
    """A plain ASCII Python name that is not a keyword."""
    return isinstance(name, str) and name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def identifier(name: object, what: str = "name") -> str:
    """`name` itself when it is a plain Python name; GeneratedCodeError otherwise."""
    if not is_identifier(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 40 else repr(name[:40]) + "..."
        raise GeneratedCodeError(f"{what} {shown} is not a Python name (letters, digits and _)")
    return name


def _plain(text: str) -> bool:
    """Text that reads the same inside triple double quotes: printable, no backslash, no quote runs."""
    return (all(c.isprintable() or c == "\n" for c in text) and "\\" not in text and '"""' not in text
            and not text.endswith('"'))


def docstring(text: str) -> str:
    """A docstring holding exactly `text`: `\"\"\"text\"\"\"` when that reads the same, else an escaped literal."""
    text = str(text)
    return f'"""{text}"""' if _plain(text) else repr(text)


def comment(text: str) -> str:
    """`# text` on one line: line breaks and other unprintable characters are escaped."""
    text = str(text)
    shown = text if all(c.isprintable() for c in text) else repr(text)[1:-1]
    return f"# {shown}"
