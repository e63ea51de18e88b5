"""Sphinx extension: drop inline scripts that Sphinx 7.4 writes twice.

Inline JavaScript added after the builder starts (sphinx-thebe's ``const THEBE_JS_URL``) is
registered a second time while pages are written, under a different internal key, so every
page declares the constant twice and the browser throws ``SyntaxError`` (found by
tests/test_browser.py). Inline entries have ``filename is None``; keeping only file-based
entries at ``env-updated`` leaves the copies that Sphinx adds while writing.
"""

from __future__ import annotations

from typing import Any


def _drop_duplicate_inline_js(app: Any, env: Any) -> None:
    js_files = getattr(app.builder, "_js_files", None)
    if js_files is not None:
        js_files[:] = [js for js in js_files if js.filename is not None]


def setup(app: Any) -> dict[str, bool]:
    app.connect("env-updated", _drop_duplicate_inline_js)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
