#include "pg_schema.h"

#include "absl/strings/str_cat.h"
#include "chat/log.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "store";
// pg_advisory_lock key of migrations ("chat" in ASCII).
constexpr char kMigrationLock[] = "1667785076";

// Each entry migrates the schema from version i to i + 1.
const char* const kMigrations[] = {
    // 1: rooms and messages, and the append that assigns seqs.
    R"sql(
      -- last_seq: the room's newest seq, the counter appends take the next from.
      CREATE TABLE rooms (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at_ms BIGINT NOT NULL,
                          created_by TEXT NOT NULL DEFAULT '', last_seq BIGINT NOT NULL DEFAULT 0);
      CREATE TABLE messages (
        room_id BIGINT NOT NULL,
        seq BIGINT NOT NULL,
        author TEXT NOT NULL,
        text TEXT NOT NULL,
        sent_at_ms BIGINT NOT NULL,
        client_msg_id TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (room_id, seq)
      );
      CREATE UNIQUE INDEX messages_idempotency
        ON messages (room_id, author, client_msg_id) WHERE client_msg_id <> '';

      -- Appends a batch of messages (the arrays are parallel; no two share a
      -- non-empty (room, author, client_msg_id)). Locks the rooms' rows in id
      -- order, so appends to one room from any node take turns and the seq
      -- stays gap-free; a message whose (room, author, client_msg_id) is
      -- stored already is not stored again and answers with the original.
      -- Returns one row per message, in order: its seq (0: no such room),
      -- whether it was a duplicate, and for a duplicate the original's text
      -- and sent_at_ms. Notifies chat_messages, per room: a few new messages
      -- inline as JSON ({"r": room, "m": [[seq, author, text, sent_at_ms,
      -- client_msg_id], ...]}; a message too big for a notification is [seq]
      -- alone), in chunks under 8000 bytes; many (a busy room: building their
      -- JSON would cost more than reading them back) as the range of seqs to
      -- read from the table ({"r": room, "to": last seq}).
      CREATE FUNCTION chat_append(p_rooms BIGINT[], p_authors TEXT[], p_texts TEXT[], p_sent BIGINT[],
                                  p_cmids TEXT[])
      RETURNS TABLE(seq BIGINT, dup BOOLEAN, text TEXT, sent_at_ms BIGINT)
      LANGUAGE plpgsql AS $fn$
      BEGIN
        -- A statement of its own: what follows sees every commit made before
        -- the locks were granted (READ COMMITTED takes a snapshot per statement).
        PERFORM 1 FROM rooms r WHERE r.id = ANY(p_rooms) ORDER BY r.id FOR UPDATE;
        RETURN QUERY
        WITH input AS (
          SELECT t.room_id, t.author, t.body, t.sent, t.cmid, t.i
          FROM unnest(p_rooms, p_authors, p_texts, p_sent, p_cmids)
            WITH ORDINALITY AS t(room_id, author, body, sent, cmid, i)
        ), old AS (
          SELECT x.i, m.seq, m.text, m.sent_at_ms FROM input x JOIN messages m
            ON m.room_id = x.room_id AND m.author = x.author AND m.client_msg_id = x.cmid
          WHERE x.cmid <> '' AND m.client_msg_id <> ''
        ), fresh AS (
          SELECT x.room_id, x.author, x.body, x.sent, x.cmid, x.i,
                 r.last_seq + row_number() OVER (PARTITION BY x.room_id ORDER BY x.i) AS seq
          FROM input x JOIN rooms r ON r.id = x.room_id
          WHERE NOT EXISTS (SELECT 1 FROM old o WHERE o.i = x.i)
        ), ins AS (
          INSERT INTO messages (room_id, seq, author, text, sent_at_ms, client_msg_id)
          SELECT f.room_id, f.seq, f.author, f.body, f.sent, f.cmid FROM fresh f
        ), bump AS (
          UPDATE rooms r SET last_seq = g.top
          FROM (SELECT f.room_id, max(f.seq) AS top FROM fresh f GROUP BY f.room_id) g
          WHERE r.id = g.room_id
        ), per_room AS (
          SELECT f.room_id, count(*) AS n, max(f.seq) AS top FROM fresh f GROUP BY f.room_id
        ), elems AS (
          SELECT f.room_id, f.seq,
                 CASE WHEN length(j.v) <= 3900 THEN j.v ELSE json_build_array(f.seq)::text END AS v
          FROM fresh f JOIN per_room p ON p.room_id = f.room_id AND p.n <= 32,
               LATERAL (SELECT json_build_array(f.seq, f.author, f.body, f.sent, f.cmid)::text AS v) j
        ), chunks AS (
          -- Chunk k holds the elements ending in [4000k, 4000(k+1)): under 7900 bytes.
          SELECT e.room_id, e.seq, e.v,
                 (sum(length(e.v) + 1) OVER (PARTITION BY e.room_id ORDER BY e.seq)) / 4000 AS c
          FROM elems e
        ), notes AS (
          SELECT pg_notify('chat_messages',
                           '{"r":' || c.room_id || ',"m":[' || string_agg(c.v, ',' ORDER BY c.seq) || ']}')
          FROM chunks c GROUP BY c.room_id, c.c
          UNION ALL
          SELECT pg_notify('chat_messages', '{"r":' || p.room_id || ',"to":' || p.top || '}')
          FROM per_room p WHERE p.n > 32
        )
        SELECT coalesce(f.seq, o.seq, 0::BIGINT), o.i IS NOT NULL, o.text, o.sent_at_ms
        FROM input x LEFT JOIN fresh f ON f.i = x.i LEFT JOIN old o ON o.i = x.i
        WHERE (SELECT count(*) FROM notes) >= 0
        ORDER BY x.i;
      END
      $fn$;
    )sql",
    // 2: accounts.
    R"sql(
      CREATE TABLE users (
        id BIGSERIAL PRIMARY KEY,
        username TEXT NOT NULL,
        username_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL
      );
      CREATE TABLE sessions (
        token_hash BYTEA PRIMARY KEY,
        user_id BIGINT NOT NULL REFERENCES users(id),
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL
      );
      CREATE INDEX sessions_expiry ON sessions (expires_at_ms);
    )sql",
    // 3: the cluster: the nodes that beat (heartbeats in the database's own
    // clock, so the nodes' clocks need not agree), who is in which room on
    // which node, and failed logins shared by every node. Unlogged: after a
    // crash of PostgreSQL the nodes write their presence again.
    R"sql(
      CREATE UNLOGGED TABLE nodes (
        id TEXT PRIMARY KEY,
        started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
      );
      CREATE UNLOGGED TABLE presence (
        node_id TEXT NOT NULL,
        room_id BIGINT NOT NULL,
        username TEXT NOT NULL,
        PRIMARY KEY (node_id, room_id, username)
      );
      CREATE TABLE login_failures (
        key TEXT NOT NULL,
        at_ms BIGINT NOT NULL
      );
      CREATE INDEX login_failures_key ON login_failures (key, at_ms);
    )sql",
    // 4: room kinds, topics and archiving; members, moderators and bans;
    // tombstones; disabled accounts. Every room that exists now is public,
    // and its creator, if that is a registered user, its owner.
    R"sql(
      ALTER TABLE rooms ADD COLUMN kind INTEGER NOT NULL DEFAULT 1,
                        ADD COLUMN topic TEXT NOT NULL DEFAULT '',
                        ADD COLUMN archived BOOLEAN NOT NULL DEFAULT false;
      ALTER TABLE messages ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
      ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
      -- SearchUsers: username_key LIKE 'prefix%'.
      CREATE INDEX users_key_prefix ON users (username_key text_pattern_ops);
      -- username: as registered; user_key: its lower-case key (users.username_key).
      CREATE TABLE room_members (
        room_id BIGINT NOT NULL,
        username TEXT NOT NULL,
        user_key TEXT NOT NULL,
        state INTEGER NOT NULL,
        role INTEGER NOT NULL DEFAULT 0,
        by_user TEXT NOT NULL DEFAULT '',
        at_ms BIGINT NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (room_id, user_key)
      );
      INSERT INTO room_members (room_id, username, user_key, state, role, by_user, at_ms, reason)
        SELECT r.id, u.username, u.username_key, 2, 3, '', r.created_at_ms, ''
        FROM rooms r JOIN users u ON u.username_key = lower(r.created_by)
        WHERE r.created_by <> '';

      -- Store::WriteMembers: applies the writes (parallel arrays) in order,
      -- all or none, and notifies chat_room_changes with p_note (unless it is
      -- empty) when they were applied. State 0 deletes the row. A write with
      -- p_check applies only if the row's state is now p_expect (0: no row).
      -- Locks the rooms' rows in id order first (as chat_append does), in a
      -- statement of its own: the member writes of a room take turns across
      -- nodes, each sees the rows the one before committed, and the room
      -- cannot be deleted under them. One row: o_problem 0 (applied), 1 (no
      -- room o_room) or 2 (o_user's row in o_room is in state o_found).
      CREATE FUNCTION chat_write_members(p_rooms BIGINT[], p_users TEXT[], p_keys TEXT[], p_states INTEGER[],
                                         p_roles INTEGER[], p_by TEXT[], p_at BIGINT[], p_reasons TEXT[],
                                         p_check BOOLEAN[], p_expect INTEGER[], p_note TEXT)
      RETURNS TABLE(o_problem INTEGER, o_user TEXT, o_room BIGINT, o_found INTEGER)
      LANGUAGE plpgsql AS $fn$
      DECLARE
        n INTEGER := coalesce(array_length(p_rooms, 1), 0);
        cur INTEGER;
      BEGIN
        PERFORM 1 FROM rooms r WHERE r.id = ANY(p_rooms) ORDER BY r.id FOR UPDATE;
        o_problem := 0;
        o_found := 0;
        FOR i IN 1 .. n LOOP
          IF NOT EXISTS (SELECT 1 FROM rooms r WHERE r.id = p_rooms[i]) THEN
            o_problem := 1;
            o_room := p_rooms[i];
            RETURN NEXT;
            RETURN;
          END IF;
        END LOOP;
        BEGIN
          FOR i IN 1 .. n LOOP
            IF p_check[i] THEN
              SELECT m.state INTO cur FROM room_members m WHERE m.room_id = p_rooms[i] AND m.user_key = p_keys[i];
              IF coalesce(cur, 0) <> p_expect[i] THEN
                o_problem := 2;
                o_user := p_users[i];
                o_room := p_rooms[i];
                o_found := coalesce(cur, 0);
                -- Undoes this block's writes; the variables keep their values.
                RAISE EXCEPTION 'member row changed' USING ERRCODE = 'CHM01';
              END IF;
            END IF;
            IF p_states[i] = 0 THEN
              DELETE FROM room_members m WHERE m.room_id = p_rooms[i] AND m.user_key = p_keys[i];
            ELSE
              INSERT INTO room_members AS m (room_id, username, user_key, state, role, by_user, at_ms, reason)
              VALUES (p_rooms[i], p_users[i], p_keys[i], p_states[i], p_roles[i], p_by[i], p_at[i], p_reasons[i])
              ON CONFLICT (room_id, user_key) DO UPDATE SET username = EXCLUDED.username, state = EXCLUDED.state,
                role = EXCLUDED.role, by_user = EXCLUDED.by_user, at_ms = EXCLUDED.at_ms, reason = EXCLUDED.reason;
            END IF;
          END LOOP;
        EXCEPTION WHEN SQLSTATE 'CHM01' THEN
          RETURN NEXT;
          RETURN;
        END;
        IF p_note <> '' THEN
          PERFORM pg_notify('chat_room_changes', p_note);
        END IF;
        RETURN NEXT;
      END
      $fn$;
    )sql",
    // 5: bots, API tokens, webhooks and the account lifecycle (#29). Every
    // account that exists now is a user, every session a login session with
    // no bound on renewal (max_expires_at_ms 0), every message a user's
    // (author_kind 0 reads as a user). owner/owner_key: a bot's owning user,
    // as registered and as its key. A session's rooms are its API token's
    // room names joined with newlines. Revoked webhooks keep their rows, so
    // an id is never given twice; a used invite keeps its row with used_by.
    //
    // chat_append gains the authors' kinds (p_kinds): a bot's message
    // carries its kind as a sixth element in the chat_messages notification
    // ([seq, author, text, sent_at_ms, client_msg_id, 2]; a user's keeps the
    // five of version 1), and a duplicate answers with the original's kind
    // (o_kind). The five-argument function of version 1 stays for nodes of
    // the version before until they are replaced (their messages are users').
    R"sql(
      ALTER TABLE users ADD COLUMN kind INTEGER NOT NULL DEFAULT 1,
                        ADD COLUMN owner TEXT NOT NULL DEFAULT '',
                        ADD COLUMN owner_key TEXT NOT NULL DEFAULT '',
                        ADD COLUMN display_name TEXT NOT NULL DEFAULT '',
                        ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
      CREATE INDEX users_owner ON users (owner_key) WHERE owner_key <> '';
      ALTER TABLE sessions ADD COLUMN kind INTEGER NOT NULL DEFAULT 0,
                           ADD COLUMN last_used_ms BIGINT NOT NULL DEFAULT 0,
                           ADD COLUMN max_expires_at_ms BIGINT NOT NULL DEFAULT 0,
                           ADD COLUMN peer TEXT NOT NULL DEFAULT '',
                           ADD COLUMN client TEXT NOT NULL DEFAULT '',
                           ADD COLUMN name TEXT NOT NULL DEFAULT '',
                           ADD COLUMN rooms TEXT NOT NULL DEFAULT '',
                           ADD COLUMN actions INTEGER NOT NULL DEFAULT 0,
                           ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
      CREATE INDEX sessions_user ON sessions (user_id, created_at_ms);
      CREATE UNIQUE INDEX sessions_token_name ON sessions (user_id, name) WHERE kind = 1;
      ALTER TABLE messages ADD COLUMN author_kind INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        secret_hash BYTEA NOT NULL,
        room_id BIGINT NOT NULL,
        bot TEXT NOT NULL,
        bot_key TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_by_key TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        created_at_ms BIGINT NOT NULL,
        revoked BOOLEAN NOT NULL DEFAULT false
      );
      CREATE TABLE registration_invites (
        code_hash BYTEA PRIMARY KEY,
        created_by TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL,
        expires_at_ms BIGINT NOT NULL,
        used_by TEXT NOT NULL DEFAULT '',
        used_at_ms BIGINT NOT NULL DEFAULT 0
      );

      CREATE FUNCTION chat_append(p_rooms BIGINT[], p_authors TEXT[], p_texts TEXT[], p_sent BIGINT[],
                                  p_cmids TEXT[], p_kinds INTEGER[])
      RETURNS TABLE(seq BIGINT, dup BOOLEAN, text TEXT, sent_at_ms BIGINT, o_kind INTEGER)
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM 1 FROM rooms r WHERE r.id = ANY(p_rooms) ORDER BY r.id FOR UPDATE;
        RETURN QUERY
        WITH input AS (
          SELECT t.room_id, t.author, t.body, t.sent, t.cmid, t.akind, t.i
          FROM unnest(p_rooms, p_authors, p_texts, p_sent, p_cmids, p_kinds)
            WITH ORDINALITY AS t(room_id, author, body, sent, cmid, akind, i)
        ), old AS (
          SELECT x.i, m.seq, m.text, m.sent_at_ms, m.author_kind FROM input x JOIN messages m
            ON m.room_id = x.room_id AND m.author = x.author AND m.client_msg_id = x.cmid
          WHERE x.cmid <> '' AND m.client_msg_id <> ''
        ), fresh AS (
          SELECT x.room_id, x.author, x.body, x.sent, x.cmid, x.akind, x.i,
                 r.last_seq + row_number() OVER (PARTITION BY x.room_id ORDER BY x.i) AS seq
          FROM input x JOIN rooms r ON r.id = x.room_id
          WHERE NOT EXISTS (SELECT 1 FROM old o WHERE o.i = x.i)
        ), ins AS (
          INSERT INTO messages (room_id, seq, author, text, sent_at_ms, client_msg_id, author_kind)
          SELECT f.room_id, f.seq, f.author, f.body, f.sent, f.cmid, f.akind FROM fresh f
        ), bump AS (
          UPDATE rooms r SET last_seq = g.top
          FROM (SELECT f.room_id, max(f.seq) AS top FROM fresh f GROUP BY f.room_id) g
          WHERE r.id = g.room_id
        ), per_room AS (
          SELECT f.room_id, count(*) AS n, max(f.seq) AS top FROM fresh f GROUP BY f.room_id
        ), elems AS (
          SELECT f.room_id, f.seq,
                 CASE WHEN length(j.v) <= 3900 THEN j.v ELSE json_build_array(f.seq)::text END AS v
          FROM fresh f JOIN per_room p ON p.room_id = f.room_id AND p.n <= 32,
               LATERAL (SELECT CASE WHEN f.akind = 2
                                    THEN json_build_array(f.seq, f.author, f.body, f.sent, f.cmid, f.akind)::text
                                    ELSE json_build_array(f.seq, f.author, f.body, f.sent, f.cmid)::text END AS v) j
        ), chunks AS (
          SELECT e.room_id, e.seq, e.v,
                 (sum(length(e.v) + 1) OVER (PARTITION BY e.room_id ORDER BY e.seq)) / 4000 AS c
          FROM elems e
        ), notes AS (
          SELECT pg_notify('chat_messages',
                           '{"r":' || c.room_id || ',"m":[' || string_agg(c.v, ',' ORDER BY c.seq) || ']}')
          FROM chunks c GROUP BY c.room_id, c.c
          UNION ALL
          SELECT pg_notify('chat_messages', '{"r":' || p.room_id || ',"to":' || p.top || '}')
          FROM per_room p WHERE p.n > 32
        )
        SELECT coalesce(f.seq, o.seq, 0::BIGINT), o.i IS NOT NULL, o.text, o.sent_at_ms, o.author_kind
        FROM input x LEFT JOIN fresh f ON f.i = x.i LEFT JOIN old o ON o.i = x.i
        WHERE (SELECT count(*) FROM notes) >= 0
        ORDER BY x.i;
      END
      $fn$;
    )sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

}  // namespace

int PgSchemaVersion() { return kSchemaVersion; }

RoomRecord PgRoomRow(const PgResult& r, int row, int col) {
  RoomRecord room;
  room.id = r.Int(row, col);
  room.name = std::string(r.Text(row, col + 1));
  room.created_at_ms = r.Int(row, col + 2);
  room.created_by = std::string(r.Text(row, col + 3));
  room.last_seq = r.Int(row, col + 4);
  room.kind = static_cast<RoomKind>(r.Int(row, col + 5));
  room.topic = std::string(r.Text(row, col + 6));
  room.archived = r.Bool(row, col + 7);
  return room;
}

absl::StatusOr<std::vector<RoomRecord>> LoadPgRooms(PgConn& conn) {
  auto r = conn.Exec(
      "SELECT id, name, created_at_ms, created_by, last_seq, kind, topic, archived FROM rooms ORDER BY id");
  if (!r.ok()) return r.status();
  std::vector<RoomRecord> rooms;
  rooms.reserve(r->rows());
  for (int i = 0; i < r->rows(); ++i) rooms.push_back(PgRoomRow(*r, i, 0));
  return rooms;
}

absl::Status MigratePg(PgConn& conn, int target) {
  // Session-level: held across the migrations' own transactions, and released
  // when this connection ends, even if this node dies half-way.
  if (auto st = conn.Exec(absl::StrCat("SELECT pg_advisory_lock(", kMigrationLock, ")")); !st.ok()) {
    return st.status();
  }
  absl::Status status = [&]() -> absl::Status {
    auto created = conn.Exec("CREATE TABLE IF NOT EXISTS schema_version (version INT NOT NULL)");
    if (!created.ok()) return created.status();
    auto current = conn.Exec("SELECT coalesce(max(version), 0) FROM schema_version");
    if (!current.ok()) return current.status();
    int version = static_cast<int>(current->Int(0, 0));
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("the database has schema version ", version,
                                                        ", newer than this chat-core understands (",
                                                        kSchemaVersion, ")"));
    }
    for (int v = version; v < target; ++v) {
      auto step = conn.Exec(absl::StrCat("BEGIN; ", kMigrations[v], "; DELETE FROM schema_version; ",
                                         "INSERT INTO schema_version VALUES (", v + 1, "); COMMIT"));
      if (!step.ok()) {
        (void)conn.Exec("ROLLBACK");
        return absl::FailedPreconditionError(
            absl::StrCat("cannot migrate the database to schema version ", v + 1, ": ", step.status().message()));
      }
      CHAT_LOG_INFO(kLog, "PostgreSQL database migrated to schema version %d", v + 1);
    }
    return absl::OkStatus();
  }();
  (void)conn.Exec(absl::StrCat("SELECT pg_advisory_unlock(", kMigrationLock, ")"));
  return status;
}

}  // namespace chat::core
