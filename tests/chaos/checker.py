#!/usr/bin/python3
"""The independent checker of the kill -9 loops. It shares no code with the
product: it reads the store itself (Python's sqlite3 on the SQLite file, or
psql on PostgreSQL; the tables are chat-core/src/sqlite_schema.cc's and
pg_schema.cc's `rooms(id, name)` and `messages(room_id, seq, author,
client_msg_id)`) and the clients' own logs (chaos_clients.py), and compares:

  (a) every acknowledged message is stored, at the seq its ack named, once;
  (b) no client_msg_id is stored twice, and each room's seqs are 1..N;
  (c) every client received every stored message of its rooms exactly once,
      in seq order, with no gap (each joined from seq 0, so 1..N in order).

  checker.py --logs DIR (--sqlite FILE | --pg URI) --rooms a,b

Exit 0 when all hold, 1 with the failures listed."""
import argparse
import collections
import glob
import json
import os
import sqlite3
import subprocess
import sys

QUERY = ("SELECT r.name, m.seq, m.author, m.client_msg_id FROM messages m "
         "JOIN rooms r ON r.id = m.room_id ORDER BY r.name, m.seq")


def read_sqlite(path):
    # Opened read-write on purpose: a database left by kill -9 has a -wal file,
    # and reading it as the next chat-core would (recovering the WAL) is the point.
    db = sqlite3.connect(path)
    try:
        return [(r, int(s), a, c) for r, s, a, c in db.execute(QUERY)]
    finally:
        db.close()


def read_pg(uri):
    out = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", uri, "-c", QUERY],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError("psql failed: " + out.stderr.strip())
    rows = []
    for line in out.stdout.splitlines():
        r, s, a, c = line.split("\t")
        rows.append((r, int(s), a, c))
    return rows


def load_logs(folder):
    logs = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            logs.append(json.load(f))
    return logs


def check(rows, logs, rooms):
    """Returns (failures, figures). `rooms`: the rooms the load used."""
    failures = []

    def fail(kind, what):
        failures.append((kind, what))

    by_seq = {}                              # (room, seq) -> client_msg_id
    by_cmid = collections.defaultdict(list)  # client_msg_id -> [(room, seq)]
    seqs = collections.defaultdict(list)
    for room, seq, _author, cmid in rows:
        by_seq[(room, seq)] = cmid
        seqs[room].append(seq)
        if cmid:
            by_cmid[cmid].append((room, seq))
    # (b) duplicates in the store, and gap-free seqs per room.
    for cmid, places in by_cmid.items():
        if len(places) > 1:
            fail("duplicate", "%s stored %d times: %s" % (cmid, len(places), places))
    for room in rooms:
        s = seqs.get(room, [])
        if s != list(range(1, len(s) + 1)):
            fail("store-gap", "room %s seqs are not 1..%d" % (room, len(s)))
    # (a) every acknowledged message stored, where its ack said, exactly once.
    acked = 0
    for log in logs:
        for cmid, (room, seq) in log["acked"].items():
            acked += 1
            places = by_cmid.get(cmid, [])
            if not places:
                fail("lost", "%s acked as %s#%d by %s, not stored" % (cmid, room, seq, log["name"]))
            elif (room, seq) not in places:
                fail("moved", "%s acked as %s#%d, stored at %s" % (cmid, room, seq, places))
        for cmid, a, b in log["ack_conflicts"]:
            fail("ack-conflict", "%s acknowledged as seq %d and %d" % (cmid, a, b))
        for cmid, code in log["refused"]:
            fail("refused", "%s refused with %s" % (cmid, code))
        if log["unacked"]:
            fail("unacked", "%s still waits for %d acks at the end" % (log["name"], len(log["unacked"])))
    # Every writer waited for all its acks, so a stored message nobody holds an
    # ack for was sent under an id its writer gave up on: a lost ack, or a
    # retry that made a second copy under a new id.
    ours = {cmid for log in logs for cmid in log["acked"]}
    unacked_stored = 0
    for cmid, places in by_cmid.items():
        if cmid not in ours:
            unacked_stored += 1
            fail("stored-unacked", "%s stored at %s, acknowledged to nobody" % (cmid, places))
    # (c) each client's deliveries per room: exactly 1..N of the store, in order.
    received = 0
    for log in logs:
        got = collections.defaultdict(list)
        for room, seq, cmid in log["received"]:
            got[room].append((seq, cmid))
            received += 1
        for room in log["rooms"]:
            want = len(seqs.get(room, []))
            seen = [s for s, _ in got[room]]
            counts = collections.Counter(seen)
            dups = sorted(s for s, n in counts.items() if n > 1)
            missing = sorted(set(range(1, want + 1)) - set(seen))
            if dups:
                fail("received-twice", "%s got %s#%s more than once" % (log["name"], room, dups[:8]))
            if missing:
                fail("gap", "%s never got %d of %s's messages, e.g. seq %s"
                     % (log["name"], len(missing), room, missing[:8]))
            if any(b <= a for a, b in zip(seen, seen[1:])) and not dups:
                fail("order", "%s got %s out of seq order" % (log["name"], room))
            for seq, cmid in got[room]:
                if by_seq.get((room, seq), cmid) != cmid:
                    fail("wrong-message", "%s got %s#%d as %s, stored as %s"
                         % (log["name"], room, seq, cmid, by_seq[(room, seq)]))
                    break
    figures = {"acked": acked, "stored": len(rows), "stored_not_acked": unacked_stored,
               "received": received, "sent": sum(l["sent"] for l in logs),
               "reconnects": sum(l["reconnects"] for l in logs), "resent": sum(l["resent"] for l in logs),
               "duplicate_acks": sum(l["duplicate_acks"] for l in logs)}
    return failures, figures


def report(failures, figures, limit=10):
    kinds = collections.Counter(k for k, _ in failures)
    lost = kinds["lost"] + kinds["moved"]
    dups = kinds["duplicate"] + kinds["received-twice"]
    gaps = kinds["gap"] + kinds["store-gap"] + kinds["order"]
    print("checker: %d acked, %d stored (%d of them never acked), %d received, %d reconnects, %d sends "
          "resent (%d answered 'duplicate': stored before the kill, acked after); lost %d, duplicates %d, "
          "gaps %d, other failures %d"
          % (figures["acked"], figures["stored"], figures["stored_not_acked"], figures["received"],
             figures["reconnects"], figures["resent"], figures["duplicate_acks"], lost, dups, gaps,
             len(failures) - lost - dups - gaps), flush=True)
    for kind, what in failures[:limit]:
        print("checker: FAIL %s: %s" % (kind, what))
    if len(failures) > limit:
        print("checker: ... and %d more failures (%s)" % (len(failures) - limit, dict(kinds)))
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--logs", required=True)
    ap.add_argument("--sqlite")
    ap.add_argument("--pg")
    ap.add_argument("--rooms", required=True)
    args = ap.parse_args()
    if bool(args.sqlite) == bool(args.pg):
        ap.error("give exactly one of --sqlite and --pg")
    rows = read_sqlite(args.sqlite) if args.sqlite else read_pg(args.pg)
    ok = report(*check(rows, load_logs(args.logs), args.rooms.split(",")))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
