"""bench/fetch: check a client's Maildir against the corpus it fetched.

    idx = Index(corpus)                 # corpus: fixtures.corpus.Corpus
    r = idx.check(maildir)              # dict, r["ok"] and r["summary"]

A run passes when the Maildir (new/ and cur/) holds exactly one file per
corpus message, found by Message-ID, and every body (after the first empty
line, CRLF -> LF) is byte-identical to the corpus body. Header changes do
not fail a run (clients add trace fields such as Received:, Return-Path:,
Delivered-To:) but are counted: `hdr_changed` is the number of messages in
which some original header field is no longer present byte-for-byte (e.g.
getmail re-folds long fields), `added` the names of fields clients added.
"""
import collections
import hashlib
import os
import re

MID = re.compile(rb"^message-id:[ \t]*(<[^>\r\n]*>)", re.I | re.M)


def split(data):
    """(header, body) of a message, line ends normalised to LF."""
    data = data.replace(b"\r\n", b"\n")
    k = data.find(b"\n\n")
    if k < 0:
        return data, b""
    return data[:k + 1], data[k + 2:]


def fields(hdr):
    """The header fields, each with its continuation lines."""
    out = []
    for ln in hdr.split(b"\n"):
        if not ln:
            continue
        if ln[:1] in (b" ", b"\t") and out:
            out[-1] += b"\n" + ln
        else:
            out.append(ln)
    return out


def _name(field):
    return field.split(b":", 1)[0].decode("ascii", "replace")


class Index:
    def __init__(self, corpus):
        self.want = {}
        for m in corpus.messages:
            hdr, body = split(m.data)
            self.want[m.msgid] = (hashlib.sha256(body).digest(), fields(hdr))

    def check(self, maildir, limit=5):
        seen = collections.Counter()
        problems, added = [], collections.Counter()
        files = bad_body = unknown = hdr_changed = 0
        for sub in ("new", "cur"):
            d = os.path.join(maildir, sub)
            if not os.path.isdir(d):
                continue
            for fn in os.listdir(d):
                files += 1
                with open(os.path.join(d, fn), "rb") as f:
                    hdr, body = split(f.read())
                m = MID.search(hdr)
                mid = m.group(1).decode("ascii", "replace") if m else None
                if mid not in self.want:
                    unknown += 1
                    problems.append("%s: %s" % (fn, "unknown " + mid if mid else "no Message-ID"))
                    continue
                seen[mid] += 1
                digest, orig = self.want[mid]
                if hashlib.sha256(body).digest() != digest:
                    bad_body += 1
                    problems.append("%s: body of %s differs (%d bytes)" % (fn, mid, len(body)))
                got = fields(hdr)
                gotset = set(got)
                if any(fl not in gotset for fl in orig):
                    hdr_changed += 1
                origset = set(orig)
                for fl in got:
                    if fl not in origset:
                        added[_name(fl)] += 1
        missing = [mid for mid in self.want if seen[mid] == 0]
        dups = sum(c - 1 for c in seen.values() if c > 1)
        problems += ["missing %s" % mid for mid in missing[:limit]]
        ok = (files == len(self.want) and not missing and not dups and not bad_body and not unknown)
        if ok:
            summary = "OK"
        else:
            parts = ["%d files" % files]
            for n, what in ((len(missing), "missing"), (dups, "duplicated"),
                            (bad_body, "body differs"), (unknown, "unknown")):
                if n:
                    parts.append("%d %s" % (n, what))
            summary = "FAIL (%s)" % ", ".join(parts)
        return {"ok": ok, "summary": summary, "files": files, "missing": len(missing),
                "dups": dups, "bad_body": bad_body, "unknown": unknown,
                "hdr_changed": hdr_changed,
                # fields added to (nearly) every message; rare ones are noise
                "added": sorted(k for k, v in added.items() if v >= max(1, files // 2)),
                "problems": problems[:limit]}
