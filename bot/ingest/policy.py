"""Who may hand the SMTP sink a mail: recipients, client networks, List-Ids.

Pure functions over plain values, so the rules are tested without a socket.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The id inside "Description <kvm.vger.kernel.org>" (RFC 2919).
_LIST_ID_BRACKETED = re.compile(r"<([^<>\s]+)>")
# Only the header block is parsed; the body may be megabytes.
_HEADER_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class AcceptPolicy:
    """The sink's acceptance rules, normalised once (lower-case, parsed networks)."""

    addresses: frozenset[str]
    domains: frozenset[str]
    networks: tuple[Network, ...]
    list_ids: frozenset[str]

    @classmethod
    def build(
        cls,
        recipients: Iterable[str],
        client_networks: Iterable[Network | str] = (),
        list_ids: Iterable[str] = (),
    ) -> AcceptPolicy:
        addresses: set[str] = set()
        domains: set[str] = set()
        for entry in recipients:
            entry = entry.strip().lower()
            if entry.startswith("@"):
                domains.add(entry[1:])
            elif entry:
                addresses.add(entry)
        return cls(
            addresses=frozenset(addresses),
            domains=frozenset(domains),
            networks=tuple(ipaddress.ip_network(n) for n in client_networks),
            list_ids=frozenset(normalise_list_id(i) for i in list_ids),
        )

    def recipient_ok(self, address: str) -> bool:
        address = address.strip().lower()
        if address in self.addresses:
            return True
        _, at, domain = address.rpartition("@")
        return bool(at) and domain in self.domains

    def client_ok(self, peer: object) -> bool:
        """`peer` is the socket's peername: (host, port[, ...]) or None."""
        if not self.networks:
            return True
        host = peer[0] if isinstance(peer, tuple) and peer else None
        if not isinstance(host, str):
            return False
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        # An IPv4 client seen through an IPv6 socket is ::ffff:a.b.c.d.
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in self.networks)

    def list_id_ok(self, found: Sequence[str]) -> bool:
        if not self.list_ids:
            return True
        return any(normalise_list_id(v) in self.list_ids for v in found)


def normalise_list_id(value: str) -> str:
    """'KVM list <KVM.vger.kernel.org>' and 'kvm.vger.kernel.org' -> 'kvm.vger.kernel.org'."""
    match = _LIST_ID_BRACKETED.search(value)
    bare = match.group(1) if match else value
    return bare.strip().strip("<>").lower()


def list_ids_of(raw: bytes) -> list[str]:
    """Every List-Id header value of a raw mail (headers only are read)."""
    end = _HEADER_END.search(raw)
    head = raw[: end.end()] if end else raw
    msg = BytesHeaderParser(policy=compat32).parsebytes(head)
    return [str(v) for v in msg.get_all("List-Id", [])]
