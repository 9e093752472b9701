"""bench/relay: what arrived in the smart host's Maildir.

    r = check(maildir, want_ids, body, sender, leak_name)

want_ids   the Message-IDs that must be there, each exactly once (a set),
           or an int: that many distinct Message-IDs, none twice (smtp-source
           numbers its own)
body       the body every message must carry byte for byte (LF line ends,
           after the header's empty line), or a dict {Message-ID: body}
sender     the envelope sender every message must have arrived with
           (virtual(8)'s Return-Path) and the address its From: must name
           (check_from=False: counted in "bad_from", not a failure)
leak_name  a private host name: messages whose Received: fields name it
           are counted (informative, not a failure)

Returns {"ok", "summary", "files", "dups", "missing", "unknown",
"bad_body", "bad_sender", "bad_from", "authenticated", "leaks",
"problems"}: "authenticated" counts the messages whose smart-host
Received: field says the client authenticated (smtpd_sasl_authenticated_header).
"""
import collections
import os
import re

MID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.I | re.M)
RP = re.compile(rb"^return-path:[ \t]*<([^>\r\n]*)>", re.I | re.M)
FROM = re.compile(rb"^from:([^\n]*(?:\n[ \t][^\n]*)*)", re.I | re.M)
RCVD = re.compile(rb"^received:([^\n]*(?:\n[ \t][^\n]*)*)", re.I | re.M)


def _split(data):
    data = data.replace(b"\r\n", b"\n")
    k = data.find(b"\n\n")
    return (data, b"") if k < 0 else (data[:k + 1], data[k + 2:])


def files(maildir):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, n) for n in os.listdir(d)]
    return out


def check(maildir, want_ids, body, sender, leak_name=None, check_from=True, limit=5):
    seen = collections.Counter()
    c = collections.Counter()
    problems = []
    paths = files(maildir)
    s = sender.encode()
    for path in paths:
        with open(path, "rb") as f:
            hdr, b = _split(f.read())
        m = MID.search(hdr)
        mid = m.group(1).decode("ascii", "replace") if m else None
        if mid is None or (isinstance(want_ids, set) and mid not in want_ids):
            c["unknown"] += 1
            problems.append("%s: unknown Message-ID %s" % (os.path.basename(path), mid))
            continue
        seen[mid] += 1
        want_body = body[mid] if isinstance(body, dict) else body
        if b != want_body:
            c["bad_body"] += 1
            problems.append("%s: body of %s differs (%d bytes, want %d)" % (
                os.path.basename(path), mid, len(b), len(want_body)))
        rp = RP.search(hdr)
        if not rp or rp.group(1) != s:
            c["bad_sender"] += 1
            problems.append("%s: envelope sender %s" % (os.path.basename(path), rp and rp.group(1)))
        fr = FROM.search(hdr)
        if not fr or s not in fr.group(1):
            c["bad_from"] += 1
            if c["bad_from"] <= 2:
                problems.append("%s: From:%s" % (os.path.basename(path), fr and fr.group(1)[:80]))
        rcvd = RCVD.findall(hdr)
        if any(b"Authenticated sender:" in r for r in rcvd):
            c["authenticated"] += 1
        if leak_name and any(leak_name.encode() in r for r in rcvd):
            c["leaks"] += 1
    dups = sum(n - 1 for n in seen.values() if n > 1)
    if isinstance(want_ids, set):
        missing = sum(1 for m in want_ids if not seen[m])
        want_n = len(want_ids)
    else:
        missing = max(0, want_ids - len(seen))
        want_n = want_ids
    ok = (len(paths) == want_n and not dups and not missing and not c["unknown"]
          and not c["bad_body"] and not c["bad_sender"] and not (check_from and c["bad_from"]))
    if ok:
        summary = "OK"
    else:
        parts = ["%d files" % len(paths)]
        for n, what in ((missing, "missing"), (dups, "duplicated"), (c["unknown"], "unknown"),
                        (c["bad_body"], "body differs"), (c["bad_sender"], "wrong envelope sender"),
                        (c["bad_from"] if check_from else 0, "From: not rewritten")):
            if n:
                parts.append("%d %s" % (n, what))
        summary = "FAIL (%s)" % ", ".join(parts)
    return {"ok": ok, "summary": summary, "files": len(paths), "dups": dups, "missing": missing,
            "unknown": c["unknown"], "bad_body": c["bad_body"], "bad_sender": c["bad_sender"],
            "bad_from": c["bad_from"], "authenticated": c["authenticated"], "leaks": c["leaks"],
            "problems": problems[:limit]}
