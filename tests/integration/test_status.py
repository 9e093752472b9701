"""`homemail status` reads what the programs left in state_dir: each dyndns
record's accepted address and last outcome in words (also while held or
backing off), and the relay queue's size; it never shows a secret."""
import os

from test_dyndns import PW, dyndns, write_conf

import fixtures


def status(bin, conf):
    return fixtures.run([bin("admin/homemail"), "status", "-c", conf])


def test_status_shows_records(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "status-dyn")
    conf = write_conf(d, dyn, dyn_cert.cert, ipv6=True)
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "box.dyn.test A (dyndns2)" in r.out and "box.dyn.test AAAA (dyndns2)" in r.out
    assert r.out.count("never updated") == 2
    assert "relay queue: not created yet" in r.out

    dyn.ip6 = "2a01:4f8::7"
    assert dyndns(bin, conf).rc == 0
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "address: 81.2.69.160, accepted" in r.out
    assert "address: 2a01:4f8::7, accepted" in r.out
    assert "for 81.2.69.160: accepted (good)" in r.out

    # A refusal: the old address stays what the name points at, the
    # outcome says what happens next and the provider's words are shown.
    with open(os.path.join(d, "dyn.secret"), "w") as f:
        f.write("wrong-secret\n")
    dyn.ip4 = "81.2.69.170"
    assert dyndns(bin, conf).rc == 1
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "address: 81.2.69.160, accepted" in r.out
    assert "for 81.2.69.170: refused as configured" in r.out and "(badauth)" in r.out
    assert "wrong-secret" not in r.out and PW not in r.out

    # Provider trouble: the back-off's end is shown.
    with open(os.path.join(d, "dyn.secret"), "w") as f:
        f.write(PW + "\n")
    dyn.answer = "911"
    assert dyndns(bin, conf).rc == 1
    r = status(bin, conf)
    assert "provider trouble, backing off (911)" in r.out, r.out
    assert "next request not before" in r.out


def test_status_unreadable_cache(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "status-fifo")
    conf = write_conf(d, dyn, dyn_cert.cert)
    os.makedirs(os.path.join(d, "state", "dyndns"), exist_ok=True)
    os.mkfifo(os.path.join(d, "state", "dyndns", "box.dyn.test-dyndns2-A"))
    r = status(bin, conf)
    assert r.rc == 1, r
    assert "cache:" in r.out


def test_status_queue_count(bin, hm_tmp, dyn, dyn_cert):
    d = os.path.join(hm_tmp, "status-queue")
    conf = write_conf(d, dyn, dyn_cert.cert)
    os.makedirs(os.path.join(d, "state", "queue"), exist_ok=True)
    r = status(bin, conf)
    assert r.rc == 0, r
    assert "relay queue: 0 messages" in r.out
