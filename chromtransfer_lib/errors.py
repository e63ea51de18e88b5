"""The one base class of the project's bad-input errors.

Every error that means "the input (a file, a region, a profile key, a download) is wrong, and
here is what to do" derives from :class:`InputError` (and keeps its older base, e.g.
``ValueError``, so callers that caught that still work). The command line turns these, and only
these, into a one-line ``error: …`` message with exit status 2; any other exception is a bug
and keeps its traceback (ARCHITECTURE.md, "Errors").
"""

from __future__ import annotations


class InputError(Exception):
    """Bad input named in the message (file, line, region or key) with what to do about it."""
