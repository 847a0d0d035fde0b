"""The sink's acceptance rules as pure functions."""

from __future__ import annotations

from bot.ingest.policy import AcceptPolicy, list_ids_of, normalise_list_id


def test_recipients_exact_and_whole_domain() -> None:
    p = AcceptPolicy.build(["KVM-Bot@Example.org", "@localhost"])
    assert p.recipient_ok("kvm-bot@example.org")
    assert p.recipient_ok("anyone@LOCALHOST")
    assert not p.recipient_ok("other@example.org")
    assert not p.recipient_ok("x@sub.localhost")  # a domain entry is that domain only
    assert not p.recipient_ok("localhost")
    assert not AcceptPolicy.build([]).recipient_ok("kvm@localhost")  # nothing configured: nothing accepted


def test_client_networks() -> None:
    p = AcceptPolicy.build(["@localhost"], ["192.0.2.0/24", "2001:db8::/32"])
    assert p.client_ok(("192.0.2.7", 40000))
    assert p.client_ok(("::ffff:192.0.2.7", 40000, 0, 0))  # IPv4 through an IPv6 socket
    assert p.client_ok(("2001:db8::1", 25, 0, 0))
    assert not p.client_ok(("198.51.100.1", 25))
    assert not p.client_ok(None)
    assert AcceptPolicy.build(["@localhost"]).client_ok(("203.0.113.9", 1))  # empty: any


def test_list_ids() -> None:
    assert normalise_list_id("KVM list <KVM.vger.kernel.org>") == "kvm.vger.kernel.org"
    assert normalise_list_id(" kvm.vger.kernel.org ") == "kvm.vger.kernel.org"
    raw = b"From: a@b\nList-Id: The KVM\n list <kvm.vger.kernel.org>\nSubject: s\n\nList-Id: <body.example>\n"
    assert [normalise_list_id(v) for v in list_ids_of(raw)] == ["kvm.vger.kernel.org"]
    p = AcceptPolicy.build(["@localhost"], list_ids=["kvm.vger.kernel.org"])
    assert p.list_id_ok(list_ids_of(raw))
    assert not p.list_id_ok(list_ids_of(b"From: a@b\nList-Id: <netdev.vger.kernel.org>\n\nx\n"))
    assert not p.list_id_ok([])
