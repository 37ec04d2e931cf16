import pytest

from tests.pools import VALID_LABEL_KEYS
from webhook.names import is_rfc3339, qualified_name_problems

NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for"
    " validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
PREFIX_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or"
    " '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used"
    " for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    "key",
    [
        *VALID_LABEL_KEYS,
        "a",
        "A_b-c.D",
        "x" * 63,
        ("p" * 253) + "/" + ("n" * 63),
        "MyLabel",
    ],
)
def test_qualified_names_that_kubernetes_accepts_have_no_problems(key: str) -> None:
    assert qualified_name_problems(key) == []


@pytest.mark.parametrize(
    ("key", "problems"),
    [
        ("example~", [f"name part {NAME_RULE}"]),
        ("example.com.", [f"name part {NAME_RULE}"]),
        ("", ["name part must be non-empty"]),
        ("x" * 64, ["name part must be no more than 63 characters"]),
        ("example.com/", ["name part must be non-empty"]),
        ("/name", ["prefix part must be non-empty"]),
        ("Example.com/name", [f"prefix part {PREFIX_RULE}"]),
        ("p" * 254 + "/name", ["prefix part must be no more than 253 characters"]),
        ("-bad./-bad", [f"prefix part {PREFIX_RULE}", f"name part {NAME_RULE}"]),
        (
            "a/b/c",
            [
                f"a qualified name {NAME_RULE} with an optional DNS subdomain prefix and '/'"
                " (e.g. 'example.com/MyName')"
            ],
        ),
        ("name\n", [f"name part {NAME_RULE}"]),
        ("nämé", [f"name part {NAME_RULE}"]),
    ],
)
def test_bad_qualified_names_are_explained_in_the_api_servers_words(
    key: str, problems: list[str]
) -> None:
    assert qualified_name_problems(key) == problems


@pytest.mark.parametrize(
    "value",
    [
        "1970-01-01T00:00:00Z",
        "2026-12-03T19:17:03Z",
        "2026-12-03t19:17:03z",
        "2026-12-03T19:17:03.123456789Z",
        "2026-12-03T19:17:03+05:30",
        "2024-02-29T23:59:59-08:00",
        # Any number of fraction digits, as RFC 3339 and Go's parser allow.
        "2026-12-03T19:17:03.1234567891Z",
        # Year 0 exists in RFC 3339 and is a leap year there.
        "0000-01-01T00:00:00Z",
        "0000-02-29T00:00:00Z",
    ],
)
def test_rfc3339_date_times_are_accepted(value: str) -> None:
    assert is_rfc3339(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2026-12-03",
        "2026-12-03T19:17Z",
        "2026-12-03 19:17:03Z",
        "2026-12-03T19:17:03",
        "2023-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-12-03T24:00:00Z",
        "2026-12-03T19:60:00Z",
        "2026-12-03T19:17:60Z",
        "2026-12-03T19:17:03+24:00",
        "2026-12-03T19:17:03.Z",
        "2026-12-03T19:17:03Z\n",
        "yesterday",
        "0001-02-29T00:00:00Z",
        # Digits of other scripts: fullwidth, Arabic-Indic.
        "\uff12\uff10\uff12\uff16-12-03T19:17:03Z",
        "2026-12-03T19:17:\u0660\u0663Z",
        "2026-12-03T19:17:03+\u0660\u0665:30",
    ],
)
def test_other_time_strings_are_not_rfc3339(value: str) -> None:
    assert not is_rfc3339(value)
