"""The step-by-step player's HTML: one self-contained page (or notebook fragment) per trace.

The template, ``player.html`` beside this file, holds the markup, the style and a little plain
JavaScript; the frames go in as JSON, and the first one also as plain markup, so that a viewer
that runs no scripts (GitHub, an untrusted notebook) still shows step 1. Nothing is loaded from the network: the page's Content
Security Policy forbids it, so a double-clicked file works offline and leaks nothing.
"""

from __future__ import annotations

import html
import json
import uuid
from pathlib import Path

TEMPLATE = Path(__file__).with_name("player.html")
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; "
                           "style-src 'unsafe-inline'; img-src data:")


def player_fragment(frames: list, note: str = "", page: bool = False) -> str:
    """The player as an HTML fragment; ``frames`` are dicts with ``svg``, ``text`` and ``step``.

    Example:
        >>> html = player_fragment([{"svg": "<svg></svg>", "text": "step 1", "step": 1}])
        >>> html.startswith('<div class="tgae-player"'), html.count("<svg")  # step 1 twice: markup, JSON
        (True, 2)
    """
    # "</" inside the JSON would end the <script> block early; "<\/" is the same string in JSON.
    data = json.dumps(frames).replace("</", "<\\/")
    fragment = (TEMPLATE.read_text(encoding="utf-8")
                .replace("__ID__", "tgae-" + uuid.uuid4().hex[:12])
                .replace("__NOTE__", html.escape(note))
                .replace("__FIRST_TEXT__", html.escape(frames[0]["text"]) if frames else "")
                .replace("__FRAMES__", data)
                # Step 1 drawn without JavaScript too, for viewers that do not run scripts.
                .replace("__FIRST_SVG__", frames[0]["svg"] if frames else "", 1))
    if page:
        fragment = fragment.replace('tabindex="0"', 'tabindex="0" data-page="1"', 1)
    return fragment


def player_page(frames: list, title: str, note: str = "") -> str:
    """A whole HTML document around the player, safe to open from disk.

    Example:
        >>> page = player_page([{"svg": "<svg></svg>", "text": "step 1", "step": 1}], "a < b")
        >>> "Content-Security-Policy" in page, "<title>a &lt; b</title>" in page
        (True, True)
    """
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n"
            f"<title>{html.escape(title)}</title>\n</head>\n<body>\n"
            f"<h3 style=\"font-family: sans-serif\">{html.escape(title)}</h3>\n"
            f"{player_fragment(frames, note, page=True)}\n</body>\n</html>\n")
