"""The look shared by mlrails' HTML reports (``mlrails check``, the drift report): one
self-contained page — inline CSS and SVG, no scripts, nothing fetched — so it opens the same
from S3, a laptop or an e-mail attachment."""

from __future__ import annotations

from html import escape

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{margin-top:2em;border-bottom:1px solid #ddd}h3{font-size:1.05em;margin-bottom:.3em}
.cards{display:flex;gap:1em;flex-wrap:wrap}
.card{flex:1;min-width:250px;border:1px solid #ddd;border-radius:6px;padding:.8em}
.yes,.ok{color:#1e7b34}.no,.drift{color:#c0392b}.unknown{color:#b7791f}.verdict{font-weight:700;font-size:1.3em}
.muted{color:#888}table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
ul.findings{padding-left:1.2em}li.blocker{color:#c0392b}li.warning{color:#b7791f}li.info{color:#555}
svg text{font:12px system-ui,sans-serif;fill:#333}code{background:#f4f4f4;padding:0 3px}
"""


def page(title: str, body: str) -> str:
    """A whole HTML document: ``title`` (plain text) and ``body`` (HTML, escaped by the caller)."""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )
