"""Text from a server, made safe to show on a terminal: its control characters made visible.

A server's strings (item names, task results and errors, usernames, error details) may hold
ESC sequences that retitle the window, conceal text or write the clipboard (OSC 52), a BEL,
a CR that overwrites what came before, or C1 controls (U+0080-U+009F, which some terminals
read as ESC [), or bidirectional overrides that reorder a line. Every such character is shown
as its Python escape (`\\x1b`, `\\r`, `\\u202e`), so the terminal gets text, never a command.
A newline and a tab are left as they are: they only move to the next line or column.
"""

from __future__ import annotations

import re
from typing import Any

# C0 but tab and newline, DEL, C1, and the bidirectional embeddings, overrides and isolates.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What json.dumps(ensure_ascii=False) leaves raw: it escapes C0 but not DEL, C1 or bidi
# controls. They can only be inside a JSON string, so \\uXXXX keeps the document the same.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """`text` with each control character replaced by its escape."""
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def visible_data(data: Any) -> Any:
    """A copy of JSON data (dicts, lists, strings, numbers) with every string, keys too, made
    visible: what a renderer is given, so that no field of it can be missed."""
    if isinstance(data, str):
        return visible(data)
    if isinstance(data, dict):
        return {visible_data(k): visible_data(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [visible_data(v) for v in data]
    return data


def json_for_terminal(text: str) -> str:
    """JSON from json.dumps(ensure_ascii=False) with the controls it leaves raw escaped."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text)
