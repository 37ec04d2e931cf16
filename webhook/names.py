"""Kubernetes name and time formats that a JSON schema cannot fully express.

The messages are the API server's own (``k8s.io/apimachinery`` validation), so
a label key rejected here reads the same as one rejected on a Pod.
"""

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Final

DNS_SUBDOMAIN: Final = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
QUALIFIED_NAME_PART: Final = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"

_NAME_PART = re.compile(QUALIFIED_NAME_PART).fullmatch
_SUBDOMAIN = re.compile(DNS_SUBDOMAIN).fullmatch

_NAME_PART_RULE: Final = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end"
    " with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc',"
    f" regex used for validation is '{QUALIFIED_NAME_PART}')"
)
_SUBDOMAIN_RULE: Final = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters,"
    " '-' or '.', and must start and end with an alphanumeric character (e.g."
    f" 'example.com', regex used for validation is '{DNS_SUBDOMAIN}')"
)


@lru_cache(maxsize=4096)
def qualified_name_problems(value: str) -> list[str]:
    """Why ``value`` is not a qualified name (``[prefix/]name``); empty when it is.

    Cached: the same keys and condition types recur across pools and parents,
    and the result is never mutated by callers.
    """
    problems: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            problems.append("prefix part must be non-empty")
        elif len(prefix) > 253:
            problems.append("prefix part must be no more than 253 characters")
        elif not _SUBDOMAIN(prefix):
            problems.append(f"prefix part {_SUBDOMAIN_RULE}")
    else:
        return [
            f"a qualified name {_NAME_PART_RULE} with an optional DNS subdomain prefix"
            " and '/' (e.g. 'example.com/MyName')"
        ]

    if not name:
        problems.append("name part must be non-empty")
    elif len(name) > 63:
        problems.append("name part must be no more than 63 characters")
    elif not _NAME_PART(name):
        problems.append(f"name part {_NAME_PART_RULE}")
    return problems


# RFC 3339 as the API server's "date-time" format reads it: a 'T', seconds
# required, a fraction of any length, and 'Z' or a numeric offset (either
# letter in either case). Digits are ASCII only: Python's \d would also take
# other scripts' digits, which no Kubernetes client writes or parses. Ranges
# are checked by datetime.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
).fullmatch


@lru_cache(maxsize=4096)
def is_rfc3339(value: str) -> bool:
    """Whether ``value`` is an RFC 3339 date-time that metav1.Time accepts."""
    match = _RFC3339(value)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    # Year 0 is valid RFC 3339 but not a Python date; 2000 has the same leap
    # day, so it stands in for the calendar check.
    year = year or 2000
    try:
        if match.group(8) is None:
            tz = UTC
        else:
            offset_hours, offset_minutes = int(match.group(9)), int(match.group(10))
            if offset_hours > 23 or offset_minutes > 59:
                return False
            tz = timezone(timedelta(hours=offset_hours, minutes=offset_minutes))
        datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return False
    return True
