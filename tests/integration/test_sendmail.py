"""homemail-sendmail and the relay's import of the drop folder: what a local
user may hand in, what is refused at once (exit 65) rather than lost in
drop/.bad.*, and a drop file that changes under the importing runner.

The everyday cases (-t and Bcc:, -f as root and nobody, the relay down,
-bp, exit codes) are in test_relay.py.
"""
import os
import re
import time
import uuid


def token():
    return uuid.uuid4().hex[:16]


def wait_for(r, user, tok, timeout=15.0):
    """The one message holding TOK in USER's Maildir, once it is there."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in r.maildir(user).values() if tok.encode() in m]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == 1, "%d messages with %s for %s; log:\n%s" % (len(found), tok, user,
                                                                    r.log())
    return found[0]


def return_path(msg):
    m = re.search(rb"^Return-Path: <([^>]*)>", msg, re.M)
    return m.group(1).decode() if m else None


# -- -f ------------------------------------------------------------------------

def test_f_send_as_of_another_user(relay):
    """A local user may not claim another's address, and another's send_as
    is theirs too: it becomes the invoker's own, as at SMTP AUTH."""
    r = relay(users={"alice": {"send_as": "alice@isp.example"}, "bob": {},
                     "nobody": {"send_as": "nobody@isp.example"}})
    tok = token()
    res = r.sendmail(["-f", "alice@isp.example", "bob@box.test"],
                     b"Subject: " + tok.encode() + b"\n\nx\n", user="nobody")
    assert res.rc == 0, res
    assert return_path(wait_for(r, "bob", tok)) == "nobody@box.test"
    # Their own send_as and a foreign address are theirs to use.
    for sender in ("nobody@isp.example", "someone@remote.example"):
        tok = token()
        res = r.sendmail(["-f", sender, "bob@box.test"],
                         b"Subject: " + tok.encode() + b"\n\nx\n", user="nobody")
        assert res.rc == 0, res
        assert return_path(wait_for(r, "bob", tok)) == sender
