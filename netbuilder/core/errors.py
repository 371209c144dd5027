"""What goes wrong, as values a person can read.

Every error a user can cause (a bad file, a graph that cannot do what was asked, a dataset that does
not fit) derives from NetbuilderError, a ValueError. Each entry point (a CLI command, a worker thread,
a menu action) catches that one class, plus OSError for the machine's own refusals (disk full, no
permission), and shows `describe(error)`: one line of at most a few hundred characters. Anything else
is a bug in netbuilder and is reported as one.
"""
from __future__ import annotations

MAX_MESSAGE = 400  # characters: a message a person reads, not a dump of the bad value


class NetbuilderError(ValueError):
    """An error a user caused; its message says what is wrong and where."""


EXPECTED = (NetbuilderError, OSError)  # what an entry point shows as a message; anything else is a bug


def first_line(error: BaseException) -> str:
    """An exception as one line a person can read (its first non-empty line, else its type)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of at most `limit` characters: the start and the end of a long text, the middle elided."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


def os_error_message(error: OSError) -> str:
    """`runs/x/weights.pt: No space left on device`."""
    reason = error.strerror or first_line(error)
    return f"{error.filename}: {reason}" if error.filename else reason


def describe(error: BaseException) -> str:
    """The one line an entry point shows for an error: the message of a user's error, the file and the
    reason of the machine's refusal, and for anything else that it is a bug."""
    if isinstance(error, NetbuilderError):
        text = str(error)
    elif isinstance(error, OSError):
        text = os_error_message(error)
    elif isinstance(error, MemoryError):
        text = "out of memory: the machine cannot hold what this needs (try a smaller batch or model)"
    else:
        from .messages import translate  # torch's complaints that a user can cause, in words

        words = translate(str(error)) if isinstance(error, (RuntimeError, ValueError)) else None
        text = words or (f"unexpected error, a bug in netbuilder (please report it): {type(error).__name__}: "
                         f"{first_line(error)}")
    return shorten(text)


def is_bug(error: BaseException) -> bool:
    if isinstance(error, (*EXPECTED, MemoryError)):
        return False
    from .messages import translate

    return not (isinstance(error, (RuntimeError, ValueError)) and translate(str(error)) is not None)


def summarize(items: list[str], limit: int = 3, noun: str = "more") -> str:
    """`a; b; c (and 12 more)`: a long list in a line."""
    shown = "; ".join(items[:limit])
    return shown + (f" (and {len(items) - limit} {noun})" if len(items) > limit else "")
