"""Realistic scalars for generated JSON: text chosen by a property's name, values for formats.

One Faker instance serves the process (building one costs ~15 ms); `seed` ties it to the
caller's rng before each value, so a value depends only on that rng. Faker's date helpers
read the wall clock, so dates here come from a fixed window instead.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from faker import Faker

_T = TypeVar("_T")
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_DESCRIPTION_WORDS = 6  # only a description's opening words name the thing; later ones digress


DEFAULT_LOCALE = "en_US"
_active = DEFAULT_LOCALE  # the language of the request being answered (see `seed`)


@cache
def _faker_for(locale: str) -> Faker:
    """The Faker of `locale`, built on first use: importing faker and building one (~95 ms) is
    start-up time a server that never fakes a value should not pay."""
    from faker import Faker

    return Faker(locale)


def _faker() -> Faker:
    """The shared en_US Faker: emails, URLs, codes and numbers read the same in any language."""
    return _faker_for(DEFAULT_LOCALE)


def _later(name: str) -> Callable[[], Any]:
    """The shared Faker's method `name`, looked up when called."""
    return lambda: getattr(_faker(), name)()


def _local(name: str) -> Callable[[], Any]:
    """Method `name` of the active language's Faker (en_US where that locale lacks it)."""

    def call() -> Any:
        method = getattr(_faker_for(_active), name, None)
        return method() if method is not None else getattr(_faker(), name)()

    return call


def seed(rng: random.Random, locale: str = DEFAULT_LOCALE) -> None:
    """Reseed the shared Faker, and the one of `locale`, from `rng`; later text is in `locale`."""
    global _active
    _active = locale
    bits = rng.getrandbits(64)
    _faker().seed_instance(bits)
    if locale != DEFAULT_LOCALE:
        _faker_for(locale).seed_instance(bits)


def _kw(words: str) -> re.Pattern[str]:
    """A matcher for any of the space-separated `words` (or their plurals) in a snake_case name."""
    forms = []
    for word in words.split():
        forms.append(word + "(?:s|es)?")
        if word.endswith("y"):
            forms.append(word[:-1] + "ies")
    return re.compile(rf"(?:^|_)(?:{'|'.join(forms)})(?:_|$)")


def _moment() -> datetime:
    return _EPOCH + timedelta(seconds=_faker().random_int(0, 8 * 365 * 86400))


def _location() -> str:
    if _active == DEFAULT_LOCALE:
        return f"{_faker().city()}, {_faker().state_abbr()}"
    return str(_local("city")())


def _phrase() -> str:
    return str(_local("sentence")()).rstrip(".。")


# First match wins, so specific names come before the general ones they contain
# ("email_address" is an email, "file_name" a file, "time_zone" a zone).
_TEXT_BY_NAME: tuple[tuple[re.Pattern[str], Callable[[], str]], ...] = (
    (_kw("email e_mail mail"), _later("email")),
    (_kw("url uri link website homepage href endpoint"), _later("url")),
    (_kw("phone mobile telephone tel fax cell"), _later("phone_number")),
    (_kw("first_name firstname given_name"), _local("first_name")),
    (_kw("last_name lastname surname family_name"), _local("last_name")),
    (_kw("username user_name login handle nickname"), _later("user_name")),
    (_kw("file filename file_name attachment"), _later("file_name")),
    (_kw("path filepath directory folder"), _later("file_path")),
    (
        _kw("company organization organisation employer business vendor"),
        _local("company"),
    ),
    (_kw("location place destination origin"), _location),
    (_kw("city town"), _local("city")),
    (_kw("country_code"), _later("country_code")),
    (_kw("country nation"), _local("country")),
    (_kw("state province region"), _local("state")),
    (_kw("zip zipcode postcode postal postal_code"), _later("postcode")),
    (_kw("ip ipv4 ip_address"), _later("ipv4")),
    (_kw("ipv6"), _later("ipv6")),
    (_kw("address street"), _local("street_address")),
    (_kw("host hostname domain"), _later("domain_name")),
    (_kw("id uuid guid"), _later("uuid4")),
    (_kw("timezone time_zone tz"), _later("timezone")),
    (
        _kw("timestamp datetime created_at updated_at at"),
        lambda: _moment().isoformat().replace("+00:00", "Z"),
    ),
    (
        _kw("date birthday dob birthdate deadline due"),
        lambda: _moment().date().isoformat(),
    ),
    (_kw("time"), lambda: _moment().strftime("%H:%M")),
    (_kw("currency"), _later("currency_code")),
    (_kw("language lang"), _later("language_name")),
    (_kw("color colour"), _later("color_name")),
    (_kw("job occupation profession position"), _local("job")),
    (_kw("password secret passphrase"), _later("password")),
    (_kw("slug"), _later("slug")),
    (_kw("version"), lambda: _faker().numerify("%.#.#")),
    (
        _kw("sku code reference ref tracking_number order_number"),
        lambda: _faker().bothify("??-#####").upper(),
    ),
    (_kw("status"), lambda: _faker().random_element(("active", "pending", "completed"))),
    (_kw("title subject headline heading caption"), _local("catch_phrase")),
    (_kw("question"), lambda: _phrase() + "?"),
    (_kw("query search q prompt keyword term"), _phrase),
    (
        _kw(
            "description summary text content message body comment note reason explanation "
            "detail bio answer reply response instruction"
        ),
        _local("sentence"),
    ),
    (
        _kw(
            "name full_name author person customer contact recipient sender owner assignee user "
            "attendee guest manager"
        ),
        _local("name"),
    ),
    (_kw("tag category label topic genre kind type word"), _later("word")),
)

# (low, high, decimals) of a plausible number for a property of that name.
_NUMBER_BY_NAME: tuple[tuple[re.Pattern[str], tuple[float, float, int]], ...] = (
    (_kw("lat latitude"), (-90.0, 90.0, 4)),
    (_kw("lon lng long longitude"), (-180.0, 180.0, 4)),
    (
        _kw("price amount cost total subtotal balance salary fee budget revenue tax payment"),
        (1.0, 500.0, 2),
    ),
    (_kw("age"), (18, 80, 0)),
    (_kw("year"), (1990, 2030, 0)),
    (_kw("month"), (1, 12, 0)),
    (_kw("day"), (1, 28, 0)),
    (_kw("hour"), (0, 23, 0)),
    (_kw("minute second"), (0, 59, 0)),
    (_kw("rating star score"), (1, 5, 1)),
    (_kw("percent percentage pct"), (0, 100, 1)),
    (_kw("probability confidence ratio weight"), (0, 1, 2)),
    (_kw("temperature temp"), (-10, 35, 1)),
    (_kw("page"), (1, 5, 0)),
    (_kw("id"), (1, 99999, 0)),
    (_kw("duration timeout delay"), (1, 120, 0)),
    (
        _kw("count quantity qty limit size num number top_k n k max_results"),
        (1, 10, 0),
    ),
)


def _snake(text: str) -> str:
    """snake_case words of a name or text: "userEmail" and "User email" give "user_email"."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", text)
    return "_".join(re.findall(r"[a-z]+|[0-9]+", spaced.lower()))


def _hints(name: str | None, description: str | None) -> list[str]:
    """The name, then the description's opening words, as snake_case strings to match."""
    hints = [_snake(name)] if name else []
    if description:
        hints.append("_".join(_snake(description).split("_")[:_DESCRIPTION_WORDS]))
    return hints


def _lookup(table: tuple[tuple[re.Pattern[str], _T], ...], hints: list[str]) -> _T | None:
    for hint in hints:
        for pattern, found in table:
            if pattern.search(hint):
                return found
    return None


def number_range(name: str | None, description: str | None) -> tuple[float, float, int] | None:
    """(low, high, decimals) of a plausible number called `name`, or None when it says nothing."""
    return _lookup(_NUMBER_BY_NAME, _hints(name, description))


def text(name: str | None, description: str | None) -> str:
    """Text that fits a property called `name`: a city for `location`, an address for `email`."""
    hints = _hints(name, description)
    make = _lookup(_TEXT_BY_NAME, hints)
    if make is not None:
        return make()
    numeric = _lookup(_NUMBER_BY_NAME, hints)
    if numeric is not None:
        low, high, decimals = numeric
        return f"{_faker().pyfloat(min_value=low, max_value=high):.{decimals}f}"
    return _phrase()


_FORMATS: dict[str, Callable[[], str]] = {
    "date": lambda: _moment().date().isoformat(),
    "date-time": lambda: _moment().isoformat().replace("+00:00", "Z"),
    "time": lambda: _moment().strftime("%H:%M:%SZ"),  # RFC 3339 full-time carries an offset
    "duration": lambda: f"PT{_faker().random_int(1, 59)}M",
    "email": _later("email"),
    "idn-email": _later("email"),
    "uri": _later("url"),
    "url": _later("url"),
    "iri": _later("url"),
    "uri-reference": _later("url"),
    "iri-reference": _later("url"),
    "uuid": _later("uuid4"),
    "ipv4": _later("ipv4"),
    "ipv6": _later("ipv6"),
    "hostname": _later("hostname"),
    "idn-hostname": _later("hostname"),
    "json-pointer": lambda: "/" + _faker().word(),
}


KNOWN_FORMATS = frozenset(_FORMATS)


def format_value(fmt: str) -> str:
    """A string in one of the KNOWN_FORMATS of JSON Schema's `format`."""
    return _FORMATS[fmt]()


def word() -> str:
    """One plain English word (a map key, padding)."""
    return str(_faker().word())


def fit_length(value: str, min_len: int, max_len: float) -> str:
    """`value` padded with words or cut so that min_len <= len <= max_len (min_len <= max_len)."""
    while len(value) < min_len:
        value = f"{value} {word()}" if value else word()
    if len(value) > max_len:
        cut = value[: int(max_len)]
        # A trailing space reads badly, but the minimum length matters more.
        value = cut.rstrip() if len(cut.rstrip()) >= min_len else cut
    return value
