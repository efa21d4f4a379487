#include "pg_cluster.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <deque>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "chat/log.h"
#include "pg_conn.h"
#include "pg_notify_codec.h"
#include "pg_schema.h"
#include "sodium.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "cluster";

std::string RandomNodeId() {
  unsigned char raw[6];
  randombytes_buf(raw, sizeof raw);
  char host[64] = {};
  gethostname(host, sizeof host - 1);
  return absl::StrCat(host, "-", getpid(), "-",
                      absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(raw), sizeof raw)));
}

// What this node tells the cluster or asks of it, in order.
struct Outgoing {
  enum class Kind { kPresence, kTyping, kRecordFailures, kClearFailures, kCountFailures };
  Kind kind = Kind::kPresence;
  // Presence (kept in the table too) and typing.
  int64_t room_id = 0;
  std::string user = {};
  bool on = false;
  // Failed logins.
  std::vector<std::string> keys = {};
  int64_t at_ms = 0;
  // Set for what waits for an answer: counts, and recorded failures.
  std::function<void(absl::StatusOr<std::vector<FailureCount>>)> done = {};
};

class PgCluster final : public Cluster {
 public:
  explicit PgCluster(PgClusterOptions options)
      : options_(std::move(options)),
        node_id_(options_.node_id.empty() ? RandomNodeId() : options_.node_id),
        wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~PgCluster() override {
    Stop();
    if (wake_ >= 0) close(wake_);
  }

  const std::string& node_id() const override { return node_id_; }

  void Start(ClusterEvents* events) override {
    events_ = events;
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() override {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    Wake();
    if (thread_.joinable()) thread_.join();
  }

  void SetPresence(int64_t room_id, const std::string& user, bool present) override {
    {
      absl::MutexLock lock(&mu_);
      // The set this node re-asserts after a reconnect.
      if (present) {
        mine_.insert({room_id, user});
      } else {
        mine_.erase({room_id, user});
      }
      outgoing_.push_back(Outgoing{Outgoing::Kind::kPresence, room_id, user, present});
    }
    Wake();
  }

  void Typing(int64_t room_id, const std::string& user, bool active) override {
    {
      absl::MutexLock lock(&mu_);
      outgoing_.push_back(Outgoing{Outgoing::Kind::kTyping, room_id, user, active});
    }
    Wake();
  }

  void CountLoginFailures(std::vector<std::string> keys, int64_t since_ms,
                          std::function<void(absl::StatusOr<std::vector<FailureCount>>)> done) override {
    Outgoing o{Outgoing::Kind::kCountFailures};
    o.keys = std::move(keys);
    o.at_ms = since_ms;
    o.done = std::move(done);
    if (!Queue(std::move(o))) return;
  }

  void RecordLoginFailures(std::vector<std::string> keys, int64_t at_ms,
                           std::function<void(absl::Status)> done) override {
    Outgoing o{Outgoing::Kind::kRecordFailures};
    o.keys = std::move(keys);
    o.at_ms = at_ms;
    o.done = [done = std::move(done)](absl::StatusOr<std::vector<FailureCount>> r) { done(r.status()); };
    Queue(std::move(o));
  }

  void ClearLoginFailures(std::string key) override {
    Outgoing o{Outgoing::Kind::kClearFailures};
    o.keys.push_back(std::move(key));
    Queue(std::move(o));
  }

  bool connected() const override {
    absl::MutexLock lock(&mu_);
    return connected_;
  }

 private:
  // Queues a request unless the cluster is away (a count then hears
  // UNAVAILABLE at once); false if it was not queued.
  bool Queue(Outgoing o) {
    {
      absl::MutexLock lock(&mu_);
      if (connected_ && !stopping_) {
        outgoing_.push_back(std::move(o));
        o.done = nullptr;
      }
    }
    if (o.done) {
      o.done(absl::UnavailableError("the database is unavailable; retry shortly"));
      return false;
    }
    Wake();
    return true;
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
  }

  bool stopping() const {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  void SetConnected(bool connected) {
    absl::MutexLock lock(&mu_);
    connected_ = connected;
  }

  void Run() {
    absl::Duration backoff = options_.pg.reconnect_min;
    while (!stopping()) {
      absl::Status st = Session();
      SetConnected(false);
      FailQueued(st);
      if (stopping()) break;
      CHAT_LOG_WARN(kLog, "cluster listener lost PostgreSQL (%s); reconnecting", st.message());
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
      backoff = std::min(backoff * 2, options_.pg.reconnect_max);
    }
    FailQueued(absl::UnavailableError("chat-core is shutting down"));
    Leave();
  }

  // Removes this node and its presence (a clean stop), telling the others.
  void Leave() {
    auto conn = PgConn::Connect(options_.pg);
    if (!conn.ok()) return;
    (void)(*conn)->Pipeline({{"DELETE FROM presence WHERE node_id = $1", {node_id_}},
                             {"DELETE FROM nodes WHERE id = $1", {node_id_}},
                             {"SELECT pg_notify('chat_presence', $1)", {NodeGonePayload(node_id_)}}});
  }

  // One connected stretch: returns why it ended.
  absl::Status Session() {
    auto c = PgConn::Connect(options_.pg);
    if (!c.ok()) return c.status();
    std::unique_ptr<PgConn> conn = std::move(*c);
    if (auto st = Join(*conn); !st.ok()) return st;
    SetConnected(true);
    CHAT_LOG_INFO(kLog, "node %s joined the cluster", node_id_);
    absl::Time next_beat = absl::Now() + options_.heartbeat_interval;
    absl::Time next_check = absl::Now() + options_.seq_check_interval;
    while (!stopping()) {
      absl::Time now = absl::Now();
      absl::Time wake_at = std::min(next_beat, next_check);
      pollfd fds[2] = {{conn->socket(), POLLIN, 0}, {wake_, POLLIN, 0}};
      int ms = static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(wake_at - now)));
      if (poll(fds, 2, ms) < 0 && errno != EINTR) return absl::InternalError("poll failed");
      if ((fds[1].revents & POLLIN) != 0) {
        uint64_t n;
        (void)!read(wake_, &n, sizeof n);
      }
      if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
        if (auto st = conn->ConsumeInput(); !st.ok()) return st;
      }
      Dispatch(*conn);
      if (auto st = Flush(*conn); !st.ok()) return st;
      now = absl::Now();
      if (now >= next_beat) {
        if (auto st = Beat(*conn); !st.ok()) return st;
        next_beat = now + options_.heartbeat_interval;
      }
      if (now >= next_check) {
        if (auto st = CheckSeqs(*conn); !st.ok()) return st;
        next_check = now + options_.seq_check_interval;
      }
      if (!conn->healthy()) return absl::UnavailableError("the connection broke");
    }
    return absl::OkStatus();
  }

  // LISTEN, beat, write this node's presence again, and hand the Hub what it
  // may have missed.
  absl::Status Join(PgConn& conn) {
    std::vector<PgQuery> q;
    for (const char* ch : {kPgMessagesChannel, kPgRoomsChannel, kPgSessionsChannel, kPgPresenceChannel,
                           kPgTypingChannel, kPgRoomChangesChannel}) {
      q.push_back({absl::StrCat("LISTEN ", ch), {}});
    }
    q.push_back({"INSERT INTO nodes (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = clock_timestamp()",
                 {node_id_}});
    q.push_back({"DELETE FROM presence WHERE node_id = $1", {node_id_}});
    std::vector<std::pair<int64_t, std::string>> mine;
    {
      absl::MutexLock lock(&mu_);
      mine.assign(mine_.begin(), mine_.end());
      // Presence said before is in `mine` now.
      std::erase_if(outgoing_, [](const Outgoing& o) { return o.kind == Outgoing::Kind::kPresence; });
    }
    for (const auto& [room, user] : mine) {
      q.push_back(PresenceQuery(Outgoing{Outgoing::Kind::kPresence, room, user, true}));
    }
    for (auto& r : conn.Pipeline(q)) {
      if (!r.ok()) return r.status();
    }
    auto present = conn.Query({"SELECT node_id, room_id, username FROM presence WHERE node_id <> $1", {node_id_}});
    if (!present.ok()) return present.status();
    std::vector<PresenceRecord> snapshot;
    for (int i = 0; i < present->rows(); ++i) {
      snapshot.push_back(PresenceRecord{std::string(present->Text(i, 0)), present->Int(i, 1),
                                        std::string(present->Text(i, 2))});
    }
    events_->OnPresenceSnapshot(snapshot);
    return CheckSeqs(conn);
  }

  PgQuery PresenceQuery(const Outgoing& o) const {
    std::string note = PresenceNotePayload(PresenceRecord{node_id_, o.room_id, o.user}, o.on);
    if (o.on) {
      return {"WITH p AS (INSERT INTO presence (node_id, room_id, username) VALUES ($1, $2, $3) "
              "ON CONFLICT DO NOTHING) SELECT pg_notify('chat_presence', $4)",
              {node_id_, absl::StrCat(o.room_id), o.user, note}};
    }
    return {"WITH p AS (DELETE FROM presence WHERE node_id = $1 AND room_id = $2 AND username = $3) "
            "SELECT pg_notify('chat_presence', $4)",
            {node_id_, absl::StrCat(o.room_id), o.user, note}};
  }

  // Sends what this node has to say, in one round trip.
  absl::Status Flush(PgConn& conn) {
    std::deque<Outgoing> out;
    {
      absl::MutexLock lock(&mu_);
      out.swap(outgoing_);
    }
    if (out.empty()) return absl::OkStatus();
    std::vector<PgQuery> q;
    q.reserve(out.size());
    for (const Outgoing& o : out) q.push_back(QueryFor(o));
    auto results = conn.Pipeline(q);
    absl::Status failed;
    for (size_t i = 0; i < out.size(); ++i) {
      if (!results[i].ok() && failed.ok()) failed = results[i].status();
      if (!out[i].done) continue;
      if (!results[i].ok()) {
        out[i].done(results[i].status());
        continue;
      }
      if (out[i].kind != Outgoing::Kind::kCountFailures) {
        out[i].done(std::vector<FailureCount>{});
        continue;
      }
      std::vector<FailureCount> counts;
      for (int row = 0; row < results[i]->rows(); ++row) {
        counts.push_back(FailureCount{static_cast<int>(results[i]->Int(row, 0)), results[i]->Int(row, 1),
                                      results[i]->Int(row, 2)});
      }
      out[i].done(std::move(counts));
    }
    return failed;  // presence is said again in full after the reconnect
  }

  PgQuery QueryFor(const Outgoing& o) const {
    switch (o.kind) {
      case Outgoing::Kind::kPresence:
        return PresenceQuery(o);
      case Outgoing::Kind::kTyping:
        return {"SELECT pg_notify('chat_typing', $1)",
                {TypingNotePayload(PresenceRecord{node_id_, o.room_id, o.user}, o.on)}};
      case Outgoing::Kind::kRecordFailures:
        return {"INSERT INTO login_failures (key, at_ms) SELECT unnest($1::text[]), $2",
                {PgTextArray(o.keys), absl::StrCat(o.at_ms)}};
      case Outgoing::Kind::kClearFailures:
        return {"DELETE FROM login_failures WHERE key = $1", {o.keys[0]}};
      case Outgoing::Kind::kCountFailures:
        break;
    }
    return {"SELECT count(f.at_ms), coalesce(min(f.at_ms), 0), coalesce(max(f.at_ms), 0) "
            "FROM unnest($1::text[]) WITH ORDINALITY AS u(k, i) "
            "LEFT JOIN login_failures f ON f.key = u.k AND f.at_ms > $2 GROUP BY u.k, u.i ORDER BY u.i",
            {PgTextArray(o.keys), absl::StrCat(o.at_ms)}};
  }

  // Requests that wait for an answer hear that the cluster is away.
  void FailQueued(const absl::Status& why) {
    std::deque<Outgoing> out;
    {
      absl::MutexLock lock(&mu_);
      for (auto it = outgoing_.begin(); it != outgoing_.end();) {
        if (it->done) {
          out.push_back(std::move(*it));
          it = outgoing_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (Outgoing& o : out) o.done(absl::UnavailableError(absl::StrCat("the database is unavailable: ", why.message())));
  }

  // This node's beat, and the end of nodes that stopped beating.
  absl::Status Beat(PgConn& conn) {
    std::string timeout = absl::StrCat(absl::ToInt64Milliseconds(options_.node_timeout), " milliseconds");
    auto results = conn.Pipeline(
        {{"UPDATE nodes SET heartbeat_at = clock_timestamp() WHERE id = $1 RETURNING 1", {node_id_}},
         {"WITH gone AS (DELETE FROM nodes WHERE id <> $1 AND heartbeat_at < clock_timestamp() - $2::interval "
          "RETURNING id), p AS (DELETE FROM presence WHERE node_id IN (SELECT id FROM gone)) "
          "SELECT id, pg_notify('chat_presence', json_build_array(id)::text) FROM gone",
          {node_id_, timeout}},
         {"DELETE FROM login_failures WHERE at_ms < $1",
          {absl::StrCat(absl::ToUnixMillis(absl::Now() - absl::Hours(24)))}},
         // Presence of nodes that are no longer listed (gone while nobody beat).
         {"WITH stale AS (DELETE FROM presence p WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = p.node_id) "
          "RETURNING node_id) SELECT pg_notify('chat_presence', json_build_array(g.node_id)::text) "
          "FROM (SELECT DISTINCT node_id FROM stale) g",
          {}}});
    for (auto& r : results) {
      if (!r.ok()) return r.status();
    }
    if (results[0]->rows() == 0) {
      // Declared gone while away (a long pause): join again.
      return absl::UnavailableError("this node was declared gone; rejoining");
    }
    for (int i = 0; i < results[1]->rows(); ++i) {  // gone nodes
      CHAT_LOG_WARN(kLog, "node %s stopped beating: its members leave their rooms", results[1]->Text(i, 0));
    }
    return absl::OkStatus();
  }

  absl::Status CheckSeqs(PgConn& conn) {
    auto rooms = LoadPgRooms(conn);
    if (!rooms.ok()) return rooms.status();
    events_->OnRoomSeqs(*rooms);
    return absl::OkStatus();
  }

  void Dispatch(PgConn& conn) {
    while (auto note = conn.NextNotification()) {
      const std::string& ch = note->channel;
      if (ch == kPgMessagesChannel) {
        auto m = ParseMessagesNote(note->payload);
        if (m.ok()) events_->OnMessages(m->room_id, std::move(m->messages), m->fetch_up_to);
        else CHAT_LOG_ERROR(kLog, "%s", m.status().message());
      } else if (ch == kPgRoomsChannel) {
        auto room = ParseRoomNote(note->payload);
        if (room.ok()) events_->OnRoomCreated(*room);
        else CHAT_LOG_ERROR(kLog, "%s", room.status().message());
      } else if (ch == kPgRoomChangesChannel) {
        // The writer's note, as it gave it (store.h); in commit order.
        events_->OnRoomChange(note->payload);
      } else if (ch == kPgSessionsChannel) {
        events_->OnSessionRevoked(absl::HexStringToBytes(note->payload));
      } else if (ch == kPgPresenceChannel || ch == kPgTypingChannel) {
        auto p = ParsePresenceNote(note->payload);
        if (!p.ok()) {
          CHAT_LOG_ERROR(kLog, "%s", p.status().message());
        } else if (p->node_gone) {
          if (p->who.node != node_id_) events_->OnNodeGone(p->who.node);
        } else if (p->who.node == node_id_) {
          // This node's own, back from the server.
        } else if (ch == kPgTypingChannel) {
          events_->OnTyping(p->who.room_id, p->who.user, p->present);
        } else {
          events_->OnPresence(p->who, p->present);
        }
      }
    }
  }

  const PgClusterOptions options_;
  const std::string node_id_;
  const int wake_;
  ClusterEvents* events_ = nullptr;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<std::pair<int64_t, std::string>> mine_ ABSL_GUARDED_BY(mu_);
  std::deque<Outgoing> outgoing_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Cluster> NewPgCluster(PgClusterOptions options) {
  return std::make_unique<PgCluster>(std::move(options));
}

}  // namespace chat::core
