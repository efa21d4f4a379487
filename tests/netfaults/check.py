"""The independent checker of one fault case: it compares what the writers
were acknowledged, what chat-core stored (read from the SQLite file with
Python's sqlite3, not through the product) and what every client received,
and measures the recovery from the clients' own records. It shares no code
with the product."""
import sqlite3


def percentile(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def stored_messages(db_path, room):
    """seq -> (author, client_msg_id, text) of `room`, read-only."""
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        row = db.execute("SELECT id FROM rooms WHERE name = ?", (room,)).fetchone()
        if row is None:
            return {}
        return {seq: (author, cid, text) for seq, author, cid, text in db.execute(
            "SELECT seq, author, client_msg_id, text FROM messages WHERE room_id = ? ORDER BY seq", (row[0],))}
    finally:
        db.close()


def check(stored, clients, users, sent_at, times, stuck=None):
    """Returns (figures, problems). `clients`: name -> snapshot; `users`:
    name -> account; `times`: warm, fault, heal (monotonic)."""
    problems = []
    fig = {}
    seqs = sorted(stored)
    fig["stored"] = len(seqs)
    if seqs and seqs != list(range(1, seqs[-1] + 1)):
        problems.append("stored seqs are not 1..%d without a hole" % seqs[-1])
    # Duplicates stored: a message's text starts with its own id, so the same
    # message stored twice under any id shows as two rows with one prefix.
    by_text_id = {}
    for seq, (author, cid, text) in stored.items():
        by_text_id.setdefault((author, text.split(" ", 1)[0]), []).append(seq)
    dup_rows = {k: v for k, v in by_text_id.items() if len(v) > 1}
    fig["dups_stored"] = sum(len(v) - 1 for v in dup_rows.values())
    if dup_rows:
        problems.append("stored twice: %s" % sorted(dup_rows.items())[:5])
    by_cid = {(author, cid): seq for seq, (author, cid, _) in stored.items() if cid}

    # 0 acknowledged lost: every ack names a stored row of that writer, at that seq.
    acked = lost = 0
    for name, snap in clients.items():
        for cid, seq in snap["acks"].items():
            acked += 1
            if by_cid.get((users[name], cid)) != seq:
                lost += 1
                if lost <= 5:
                    problems.append("%s's %s acknowledged as seq %d but stored as %s" % (
                        name, cid, seq, by_cid.get((users[name], cid))))
    fig["sent"], fig["acked"], fig["lost_acked"] = len(sent_at), acked, lost
    unacked = sum(s["unacked"] for s in clients.values())
    if unacked:
        problems.append("%d sends never acknowledged after the fault healed" % unacked)
    never = [c for c in sent_at if not any(c in s["acks"] for s in clients.values())]
    if never:
        problems.append("%d sent messages have no ack: %s" % (len(never), never[:5]))

    # Every client: each stored message after its first join, once, in order.
    delivered = dups = missing = wrong = gaps = reconnects = 0
    for name, snap in clients.items():
        got = [seq for seq, _, _ in snap["received"]]
        delivered += len(got)
        dups += snap["dups"]
        gaps += len(snap["gaps"])
        reconnects += max(0, snap["connects"] - 1)
        if snap["start_seq"] is None:
            problems.append("%s never joined" % name)
            continue
        want = [s for s in seqs if s > snap["start_seq"]]
        if got != want:
            miss, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            missing += len(miss)
            detail = (["missing %s" % miss[:8]] if miss else []) + (["not stored: %s" % extra[:8]] if extra else [])
            problems.append("%s received %d of %d messages (%s)" % (
                name, len(got), len(want), ", ".join(detail) or "out of order"))
        for seq, cid, _ in snap["received"]:
            if seq in stored and stored[seq][1] != cid:
                wrong += 1
        if snap["dups"]:
            problems.append("%s received %d messages twice" % (name, snap["dups"]))
        if snap["gaps"]:
            problems.append("%s saw seq gaps %s" % (name, snap["gaps"][:5]))
    if wrong:
        problems.append("%d deliveries differ from the stored message of their seq" % wrong)
    fig.update(delivered=delivered, dups_delivered=dups, missing=missing, gaps=gaps, ws_reconnects=reconnects)
    fig["others_reconnects"] = sum(max(0, s["connects"] - 1) for n, s in clients.items() if n != stuck)

    # Latency by when the message was sent: before the fault and during it.
    def latencies(lo, hi, skip=None, only=None):
        out = []
        for name, snap in clients.items():
            if name == skip or (only and name != only):
                continue
            for _, cid, t in snap["received"]:
                at = sent_at.get(cid)
                if at is not None and lo <= at < hi:
                    out.append(t - at)
        return out

    fig["baseline_p99"] = percentile(latencies(times["warm"], times["fault"]), 99)
    fig["fault_p99"] = percentile(latencies(times["fault"], times["heal"]), 99)
    fig["others_fault_p99"] = percentile(latencies(times["fault"], times["heal"], skip=stuck), 99)
    fig["client_fault_p99"] = {n: percentile(latencies(times["fault"], times["heal"], skip=None, only=n), 99)
                               for n in clients}

    # Recovery: from the fault's removal until the first message sent after
    # it has reached every client.
    fig["recovery_s"] = None
    for cid in sorted((c for c, at in sent_at.items() if at >= times["heal"]), key=sent_at.get):
        arrivals = [next((t for _, c, t in s["received"] if c == cid), None) for s in clients.values()]
        if all(a is not None for a in arrivals):
            fig["recovery_s"] = max(arrivals) - times["heal"]
            break
    if fig["recovery_s"] is None:
        problems.append("no message sent after the fault was removed reached every client")
    # Outage: the longest time any client went without a message, around the fault.
    outage = 0.0
    for snap in clients.values():
        ts = [t for _, _, t in snap["received"] if times["warm"] <= t]
        for a, b in zip(ts, ts[1:]):
            if b >= times["fault"] and a <= times["heal"] + 30:
                outage = max(outage, b - a)
    fig["max_silence_s"] = outage
    return fig, problems
