"""Person/address parsing (bot.mail.people), shared by headers and trailers."""

from __future__ import annotations

import pytest

from bot.mail.models import Person
from bot.mail.people import parse_address_list, parse_person

PEOPLE = [
    ("Jane Doe <jane@Example.COM>", Person(name="Jane Doe", email="jane@example.com")),
    ('"Doe, Jane" <jane@x.org>', Person(name="Doe, Jane", email="jane@x.org")),
    ('"Jane \\"JD\\" Doe" <jane@x.org>', Person(name='Jane "JD" Doe', email="jane@x.org")),
    ("jane@x.org (Jane Doe)", Person(name="Jane Doe", email="jane@x.org")),
    ("<jane@x.org> (Jane Doe)", Person(name="Jane Doe", email="jane@x.org")),
    ("jane@x.org", Person(email="jane@x.org")),
    ("<jane@x.org>", Person(email="jane@x.org")),
    ("Jérôme Glisse <jglisse@redhat.com>", Person(name="Jérôme Glisse", email="jglisse@redhat.com")),
    ("李四 <li.si@example.cn>", Person(name="李四", email="li.si@example.cn")),
    ("Foo <foo@bar.com<mailto:foo@bar.com>>", Person(name="Foo", email="foo@bar.com")),
    ("foo@bar.com<mailto:foo@bar.com>", Person(email="foo@bar.com")),
    ("Name <a@b.c", Person(name="Name", email="a@b.c")),  # unclosed bracket
    ("syzbot", Person(name="syzbot")),  # no address at all: kept as a name
    ("  Spaced   Out   <s@x.org> ", Person(name="Spaced Out", email="s@x.org")),
    ("", Person()),
]


@pytest.mark.parametrize(("value", "expected"), PEOPLE, ids=[p[0] or "empty" for p in PEOPLE])
def test_parse_person(value: str, expected: Person) -> None:
    assert parse_person(value) == expected


def test_address_list_keeps_order_and_commas_inside_names() -> None:
    value = 'A <a@x.org>, "B, C" <b@x.org>, Doe, Jane <j@x.org>, d@x.org (D, E),\n e@x.org, , '
    assert parse_address_list(value) == (
        Person(name="A", email="a@x.org"),
        Person(name="B, C", email="b@x.org"),
        Person(name="Doe, Jane", email="j@x.org"),
        Person(name="D, E", email="d@x.org"),
        Person(email="e@x.org"),
    )


def test_address_list_degenerate_input() -> None:
    assert parse_address_list("") == ()
    assert parse_address_list("undisclosed-recipients:;") == ()
    assert parse_address_list("Team: a@x.org, B <b@x.org>;, c@x.org") == (
        Person(email="a@x.org"), Person(name="B", email="b@x.org"), Person(email="c@x.org"))
    assert parse_address_list('"unterminated <a@x.org>') == (Person(name="unterminated", email="a@x.org"),)
