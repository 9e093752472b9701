#!/usr/bin/python3
"""Deterministic test messages for bench/popd (stdlib only).

  gen.py --out DIR --count N [--big K] [--seed S] [--maildir] [--owner UID:GID]

Without --maildir: writes DIR/000001.eml ... (LF line ends), the input for
homemail-deliver / dovecot-lda (one message on stdin per process).
With --maildir: writes a Maildir DIR/{cur,new,tmp} with the messages in new/,
named like a foreign MTA's delivery (no ,S=/,W= size hints), as
shared/peers/serve/gen-maildir.py does.
Sizes: uniform 2..50 KiB, plus K (default 5) messages of ~1 MiB; some body
lines start with '.' and some are a lone '.', to exercise dot-stuffing.
Prints: "N msgs, B bytes (LF), V bytes CRLF".
"""
import argparse, os, random

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--count", type=int, required=True)
ap.add_argument("--big", type=int, default=5)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--maildir", action="store_true")
ap.add_argument("--owner", default=None)
a = ap.parse_args()
rnd = random.Random(a.seed)
if a.maildir:
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
else:
    os.makedirs(a.out, exist_ok=True)
words = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua").split()
bigidx = set(rnd.sample(range(a.count), min(a.big, a.count))) if a.count else set()
tot = totv = 0
for i in range(a.count):
    target = 1024 * 1024 if i in bigidx else rnd.randint(2048, 50 * 1024)
    hdr = (f"Return-Path: <sender{i % 97}@example.net>\n"
           f"From: Sender {i % 97} <sender{i % 97}@example.net>\n"
           f"To: user@home.example\n"
           f"Subject: load test message {i}\n"
           f"Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
           f"Message-ID: <gen-{a.seed}-{i}@example.net>\n"
           f"MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n")
    body = []; n = len(hdr); j = 0
    while n < target:
        if j % 17 == 3:
            line = "." + " ".join(rnd.choice(words) for _ in range(8))
        elif j % 53 == 7:
            line = "."
        else:
            line = " ".join(rnd.choice(words) for _ in range(12))
        body.append(line); n += len(line) + 1; j += 1
    data = (hdr + "\n".join(body) + "\n").encode()
    if a.maildir:
        p = os.path.join(a.out, "new", f"{1700000000 + i}.V801I{i:x}M{i * 7 % 999983}.genhost")
    else:
        p = os.path.join(a.out, "%06d.eml" % (i + 1))
    with open(p, "wb") as f:
        f.write(data)
    tot += len(data); totv += len(data) + data.count(b"\n")
if a.owner:
    uid, gid = (int(x) for x in a.owner.split(":"))
    for root, dirs, files in os.walk(a.out):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)
print(f"{a.count} msgs, {tot} bytes (LF), {totv} bytes CRLF")
