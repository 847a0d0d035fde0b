"""Who wrote the window's mails: counts per sender domain and per sender.

Every mail counts once, replies included, by its parsed author (the in-body
`From:` where the parser honoured one). Ties are broken by the label,
case-insensitively, then as written, so the order never depends on input
order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from bot.mail.models import Person

TOP = 15
UNKNOWN = "(unknown)"


def person_label(person: Person) -> str:
    """`Name <email>`, or whichever half is known."""
    if person.name and person.email:
        return f"{person.name} <{person.email}>"
    return person.name or (f"<{person.email}>" if person.email else UNKNOWN)


def domain_of(person: Person) -> str:
    _, at, domain = person.email.rpartition("@")
    return domain.strip().lower() if at and domain.strip() else UNKNOWN


def _ranked(counter: Counter[str], top: int) -> list[tuple[int, str]]:
    order = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))
    return [(count, label) for label, count in order[:top]]


def top_domains(authors: Iterable[Person], top: int = TOP) -> list[tuple[int, str]]:
    return _ranked(Counter(domain_of(a) for a in authors), top)


def top_contributors(authors: Iterable[Person], top: int = TOP) -> list[tuple[int, str]]:
    """Senders keyed by address (case-insensitive), shown as `Name <email>`.

    The name shown is the one the sender used most (an empty name only when
    they never gave one), ties going to the earlier; the address is as on
    their first mail.
    """
    counts: Counter[str] = Counter()
    first: dict[str, Person] = {}
    names: dict[str, Counter[str]] = {}
    for author in authors:
        key = author.email.lower() if author.email else f"name:{author.name}"
        counts[key] += 1
        first.setdefault(key, author)
        if author.name:
            names.setdefault(key, Counter())[author.name] += 1
    labelled: Counter[str] = Counter()
    for key, count in counts.items():
        # Counter.most_common keeps first-seen order among equal counts.
        name = names[key].most_common(1)[0][0] if key in names else ""
        labelled[person_label(Person(name=name, email=first[key].email))] += count
    return _ranked(labelled, top)
