"""Retrying a request to a server: which failures are worth another try, and how long to wait.

Pure functions (no I/O), used by `srlm.backends.openai`.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx


def is_retryable(status: int) -> bool:
    """429 (rate limited) and 5xx are worth another try; any other 4xx is the request's fault.

    >>> [is_retryable(s) for s in (429, 500, 503, 400, 401, 404)]
    [True, True, True, False, False, False]
    """
    return status == 429 or status >= 500


def parse_retry_after(headers: httpx.Headers | dict[str, str], now: float | None = None) -> float | None:
    """Seconds a server asks us to wait: `retry-after-ms`, or `Retry-After` as seconds or a date.

    >>> parse_retry_after({"retry-after": "2"}), parse_retry_after({"retry-after-ms": "250"})
    (2.0, 0.25)
    >>> parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
    10.0
    >>> parse_retry_after({"retry-after": "soon"}) is None, parse_retry_after({}) is None
    (True, True)
    """
    headers = httpx.Headers(headers)
    if (millis := headers.get("retry-after-ms")) is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(moment - (time.time() if now is None else now), 0.0)


def retry_delay(
    attempt: int, retry_after: float | None, backoff_s: float, max_backoff_s: float, jitter: float
) -> float:
    """Wait before retry number `attempt` (0-based): the server's wish, else backoff · 2^attempt.

    `jitter` in [0, 1) scales the backoff into [50 %, 100 %) so that clients that failed together
    do not retry together; a Retry-After is taken as given. Both are capped at `max_backoff_s`.

    >>> retry_delay(0, None, 1.0, 60, 0.0), retry_delay(3, None, 1.0, 60, 0.5)
    (0.5, 6.0)
    >>> retry_delay(10, None, 1.0, 60, 0.99), retry_delay(0, 7.0, 1.0, 60, 0.3), retry_delay(0, 900.0, 1.0, 60, 0.3)
    (60, 7.0, 60)
    """
    if retry_after is not None:
        return min(retry_after, max_backoff_s)
    return min(backoff_s * 2**attempt * (0.5 + jitter / 2), max_backoff_s)
