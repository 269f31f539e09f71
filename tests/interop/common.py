"""Shared bits of the Python interop clients: awkward values, a tiny test runner, and
hooks that change a request after the official SDK has signed it."""

import contextlib
import sys
import time
import traceback
from unittest import mock
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Non-ASCII with a space, +, *, ~, /, an emoji, an empty value, and = & inside a value.
AWKWARD = {
    "name": "张三 李四",
    "plus": "a+b",
    "star": "x*y",
    "tilde": "~home",
    "slash": "/p/q",
    "emoji": "😀",
    "empty": "",
    "mix": "a=b&c d",
}

_results = []


def case(name):
    def wrap(fn):
        try:
            fn()
            _results.append((name, None))
            print(f"PASS {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure, keep going
            _results.append((name, e))
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def finish(label):
    failed = sum(1 for _, e in _results if e is not None)
    passed = len(_results) - failed
    print(f"{label}: {passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


@contextlib.contextmanager
def after_signing(session_cls, edit=None, twice=False):
    """Patch `session_cls.send` so `edit(prepared)` runs on the request the SDK signed, and
    with `twice` the signed request is sent twice (a replay) and the second answer returned."""
    original = session_cls.send

    def send(self, prepared, **kwargs):
        if edit is not None:
            edit(prepared)
        if twice:
            first = original(self, prepared.copy(), **kwargs)
            expect(first.status_code == 200, f"first send should pass, got {first.status_code} {first.text}")
        return original(self, prepared, **kwargs)

    with mock.patch.object(session_cls, "send", send):
        yield


def edit_query(prepared, fn):
    """Rewrite the decoded query pairs of a prepared request with `fn(pairs) -> pairs`,
    re-encoded the way the SDKs encode (RFC 3986)."""
    parts = urlsplit(prepared.url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = urlencode(fn(pairs), quote_via=_quote)
    prepared.url = urlunsplit(parts._replace(query=query))


def _quote(s, safe="", encoding=None, errors=None):
    from urllib.parse import quote

    return quote(s, safe="~")


def set_body(prepared, body):
    prepared.body = body
    prepared.headers["Content-Length"] = str(len(body))


def old_clock(seconds_ago):
    """Make time.time() lag by `seconds_ago` while the SDK signs."""
    real = time.time
    return mock.patch("time.time", lambda: real() - seconds_ago)
