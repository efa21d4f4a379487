#include "pg_write_batch.h"

#include <chrono>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "chat/log.h"

namespace chat::core {
namespace {
constexpr char kLog[] = "store";
}  // namespace

void FailPgWrite(PgWriteItem& item, const absl::Status& status) {
  if (auto* a = std::get_if<PgAppendOp>(&item)) {
    a->done(status);
  } else {
    auto& op = std::get<PgWriteOp>(item);
    std::vector<absl::StatusOr<PgResult>> results;
    for (size_t i = 0; i < op.queries.size(); ++i) results.emplace_back(status);
    op.complete(results, status);
  }
}

void CommitPgBatch(PgConn& conn, std::vector<PgWriteItem>& batch, const CommitObserver& on_commit) {
  const auto start = on_commit ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  std::vector<PgAppendOp*> appends;
  std::vector<PgWriteOp*> ops;
  for (auto& item : batch) {
    if (auto* a = std::get_if<PgAppendOp>(&item)) {
      appends.push_back(a);
    } else {
      ops.push_back(&std::get<PgWriteOp>(item));
    }
  }
  // Copies of one idempotency key in one batch: only the first goes in;
  // the others are answered as its duplicates.
  std::vector<int> first_of(appends.size(), -1);
  std::vector<size_t> sent;
  {
    absl::flat_hash_map<std::tuple<int64_t, std::string, std::string>, int> seen;
    for (size_t i = 0; i < appends.size(); ++i) {
      const AppendRequest& r = appends[i]->request;
      if (!r.client_msg_id.empty()) {
        auto [it, fresh] = seen.try_emplace({r.room_id, r.author, r.client_msg_id}, static_cast<int>(i));
        if (!fresh) {
          first_of[i] = it->second;
          continue;
        }
      }
      sent.push_back(i);
    }
  }
  std::vector<PgQuery> queries;
  queries.push_back({"BEGIN", {}});
  if (!sent.empty()) {
    std::vector<int64_t> rooms, sent_at, kinds;
    std::vector<std::string> authors, texts, ids;
    for (size_t i : sent) {
      const AppendRequest& r = appends[i]->request;
      rooms.push_back(r.room_id);
      authors.push_back(r.author);
      texts.push_back(r.text);
      sent_at.push_back(r.sent_at_ms);
      ids.push_back(r.client_msg_id);
      kinds.push_back(static_cast<int64_t>(r.author_kind));
    }
    queries.push_back({"SELECT seq, dup, text, sent_at_ms, o_kind FROM chat_append($1::bigint[], $2::text[], "
                       "$3::text[], $4::bigint[], $5::text[], $6::integer[])",
                       {PgIntArray(rooms), PgTextArray(authors), PgTextArray(texts), PgIntArray(sent_at),
                        PgTextArray(ids), PgIntArray(kinds)}});
  }
  for (PgWriteOp* op : ops) {
    for (auto& q : op->queries) queries.push_back(q);
  }
  queries.push_back({"COMMIT", {}});
  auto results = conn.Pipeline(queries);
  absl::Status commit = results.back().ok() ? absl::OkStatus() : results.back().status();
  if (!commit.ok()) {
    absl::Status cause = commit;
    for (auto& r : results) {
      if (!r.ok() && r.status().code() != absl::StatusCode::kAborted) {
        cause = r.status();
        break;
      }
    }
    if (!conn.healthy()) {
      // The outcome of COMMIT is unknown: never acknowledge.
      absl::Status unknown = absl::UnavailableError(absl::StrCat(
          "the database connection broke; the write may or may not be stored (retry an append with "
          "the same client_msg_id): ",
          cause.message()));
      for (auto& item : batch) FailPgWrite(item, unknown);
      return;
    }
    (void)conn.Exec("ROLLBACK");
    if (batch.size() > 1) {
      // One write's error must not fail the others: each alone.
      CHAT_LOG_WARN(kLog, "a batch of %d writes failed (%s); retrying them one by one",
                    static_cast<int>(batch.size()), cause.message());
      for (auto& item : batch) {
        std::vector<PgWriteItem> one;
        one.push_back(std::move(item));
        CommitPgBatch(conn, one, on_commit);
      }
      return;
    }
    FailPgWrite(batch[0], cause);
    return;
  }
  if (on_commit) {
    on_commit(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count(),
              batch.size());
  }
  // Appends: answered in input order, which is seq order within a room.
  if (!sent.empty()) {
    PgResult& rows = *results[1];
    std::vector<absl::StatusOr<AppendResult>> answers(appends.size(), absl::InternalError("unanswered"));
    for (size_t k = 0; k < sent.size(); ++k) {
      size_t i = sent[k];
      AppendRequest& req = appends[i]->request;
      int64_t seq = rows.Int(static_cast<int>(k), 0);
      if (seq == 0) {
        answers[i] = absl::NotFoundError("room does not exist");
        continue;
      }
      AppendResult r;
      r.duplicate = rows.Bool(static_cast<int>(k), 1);
      r.message.room_id = req.room_id;
      r.message.seq = seq;
      r.message.author = req.author;
      r.message.client_msg_id = req.client_msg_id;
      r.message.text = r.duplicate ? std::string(rows.Text(static_cast<int>(k), 2)) : req.text;
      r.message.sent_at_ms = r.duplicate ? rows.Int(static_cast<int>(k), 3) : req.sent_at_ms;
      // A duplicate carries the original's kind (0 in rows from before kinds: a user).
      r.message.author_kind = !r.duplicate                                             ? req.author_kind
                              : rows.Int(static_cast<int>(k), 4) == static_cast<int>(AccountKind::kBot) ? AccountKind::kBot
                                                                                                    : AccountKind::kUser;
      answers[i] = std::move(r);
    }
    for (size_t i = 0; i < appends.size(); ++i) {
      if (first_of[i] >= 0) {
        answers[i] = answers[first_of[i]];
        if (answers[i].ok()) answers[i]->duplicate = true;
      }
      appends[i]->done(std::move(answers[i]));
    }
  }
  size_t next = sent.empty() ? 1 : 2;
  for (PgWriteOp* op : ops) {
    std::vector<absl::StatusOr<PgResult>> mine;
    for (size_t q = 0; q < op->queries.size(); ++q) mine.push_back(std::move(results[next++]));
    op->complete(mine, commit);
  }
}


}  // namespace chat::core
