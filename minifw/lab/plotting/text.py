"""Text that a figure shows as it is: titles and labels made from names minifw did not choose."""

from __future__ import annotations


def plain_text(text: str) -> str:
    """``text`` as matplotlib will draw it literally, whatever it holds.

    matplotlib reads what stands between two ``$`` as mathematics: a file name such as
    ``a$x^{$.npz`` used as a title would be typeset, or fail to draw at all. Each ``$``
    is escaped (``\\$``), which matplotlib draws as a plain ``$``, with mathematics on or
    off and in any backend. A file name that was not UTF-8 reaches Python with lone
    surrogates standing for its bytes (``\\udcff``), which the font code cannot encode;
    those bytes are drawn as U+FFFD, the replacement character.
    """
    try:  # the bytes the surrogates stand for, decoded as far as they are UTF-8
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("$", r"\$")
