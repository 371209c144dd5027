"""What goes wrong, as values a person can read.

Every error a user can cause (a bad file, a graph that cannot do what was asked, a dataset that does
not fit) derives from NetbuilderError, a ValueError. Each entry point (a CLI command, a worker thread,
a menu action) catches that one class, plus OSError for the machine's own refusals (disk full, no
permission), and shows `describe(error)` (core/checks/messages.py, where torch's complaints are put in words): one line of at most a few hundred characters. Anything else
is a bug in netbuilder and is reported as one.
"""
from __future__ import annotations

MAX_MESSAGE = 400  # characters: a message a person reads, not a dump of the bad value
MAX_VALUE = 60  # characters of a bad value shown in a message


class NetbuilderError(ValueError):
    """An error a user caused; its message says what is wrong and where."""


EXPECTED = (NetbuilderError, OSError)  # what an entry point shows as a message; anything else is a bug


def first_line(error: BaseException) -> str:
    """An exception as one line a person can read (its first non-empty line, else its type)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of at most `limit` characters: the start and the end of a long text, the middle elided. Control
    characters (a NUL or an escape sequence from a file name a user was given) are shown escaped."""
    text = " ".join(str(text).split())
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


def os_error_message(error: OSError) -> str:
    """`runs/x/weights.pt: No space left on device`."""
    reason = error.strerror or first_line(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def summarize(items: list[str], limit: int = 3, noun: str = "more", width: int = 300) -> str:
    """`a; b; c (and 12 more)`: a long list in a line, each item cut to `width` // `limit` characters."""
    shown = "; ".join(brief_text(item, max(width // max(limit, 1), 40)) for item in items[:limit])
    return shown + (f" (and {len(items) - limit:,} {noun})" if len(items) > limit else "")


def brief_text(text: str, limit: int = MAX_VALUE) -> str:
    """A text as it is when short, else its start and `...`: a name or a cell, not a dump."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def brief(value: object, limit: int = MAX_VALUE) -> str:
    """A bad value as a message shows it: its repr, cut to `limit` characters. Never fails, whatever the value
    (an int of 5,000 digits, a 2 MB string, a deeply nested list)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"a whole number of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"a list of {len(value):,} values"
    if isinstance(value, (list, tuple, dict)):
        try:
            text = repr(value)
        except (ValueError, RecursionError):  # ints beyond str()'s digit limit inside, or nesting
            return f"a {type(value).__name__} holding a value too large to show"
    elif isinstance(value, str):
        text = repr(value[: limit + 1])
    else:
        try:
            text = repr(value)
        except Exception:  # noqa: BLE001 - a value whose repr fails is still shown as something
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def summarize_path(names: list[str], what: str = "a cycle", show: int = 6) -> str:
    """`a cycle through 10,000 blocks: b2 -> b3 -> ... -> b2`: a loop of names that ends where it starts,
    its middle elided when long."""
    loop = [brief_text(name) for name in names] + [brief_text(names[0])]
    shown = loop if len(loop) <= show else [*loop[:2], "...", loop[-1]]
    return f"{what} through {len(names):,} block{'s' if len(names) != 1 else ''}: {' -> '.join(shown)}"
