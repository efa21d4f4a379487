#include "connect_session.h"

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "chat/status.h"

namespace chat::core {

absl::StatusOr<size_t> BatchLimit(const std::optional<std::string>& value) {
  if (!value) return 1;
  size_t n = 0;
  if (!absl::SimpleAtoi(*value, &n) || n < 1 || n > kMaxBatchEvents) {
    return absl::InvalidArgumentError(absl::StrCat(kBatchHeader, " must be a whole number from 1 to ",
                                                   kMaxBatchEvents, " (the most events per message), not \"",
                                                   absl::CHexEscape(*value), "\""));
  }
  return n;
}

ConnectMetadata ReadConnectMetadata(
    absl::FunctionRef<std::optional<absl::string_view>(absl::string_view)> metadata) {
  ConnectMetadata md;
  md.authorization = std::string(metadata("authorization").value_or(""));
  md.guest_user = std::string(metadata("x-chat-user").value_or(""));
  if (auto batch = metadata(kBatchHeader)) md.batch = std::string(*batch);
  return md;
}

void StartConnectSession(Hub* hub, const Authenticator& auth, const ServiceOptions& options, ConnectMetadata md,
                         OutboxWriter* writer, size_t lane, std::function<void()> start_read,
                         std::function<void(absl::StatusOr<ConnectSession>)> done) {
  absl::StatusOr<size_t> batch = BatchLimit(md.batch);
  auth.Authenticate(md.authorization, md.guest_user, [hub, &options, batch, writer, lane,
                                                      start_read = std::move(start_read),
                                                      done = std::move(done)](absl::StatusOr<Identity> who) {
    if (!who.ok()) return done(who.status());
    if (hub->shutting_down()) return done(absl::UnavailableError("chat-core is shutting down"));
    if (!batch.ok()) return done(batch.status());
    ConnectSession parts;
    OutboxLimits limits = options.connect_outbox;
    limits.max_batch = *batch;
    parts.pause_reads_above = limits.max_events / 2;
    parts.outbox = std::make_shared<Outbox>(Outbox::Kind::kConnect, writer, limits,
                                            hub->outbox_counters(Outbox::Kind::kConnect), hub->kicker(), lane);
    parts.session = std::make_shared<Session>(hub, parts.outbox, 0, std::move(*who), options.connect_session);
    std::weak_ptr<Outbox> weak_outbox = parts.outbox;
    parts.session->SetResumeHook([weak_outbox, limit = parts.pause_reads_above, start_read] {
      // Touches nothing of the stream's outside the outbox lock, which keeps the
      // stream alive (its Detach takes it; ReadWhenRoom then does nothing).
      if (auto o = weak_outbox.lock()) o->ReadWhenRoom(limit, start_read);
    });
    parts.session->SetKillHook([weak_outbox](const absl::Status& status) {
      if (auto o = weak_outbox.lock()) o->Finish(ToGrpcStatus(status));
    });
    parts.session->SetDrainedHook([weak_outbox] {
      if (auto o = weak_outbox.lock()) o->FinishWhenDrained(grpc::Status::OK);
    });
    if (absl::Status added = hub->live().AddSession(parts.session); !added.ok()) {
      parts.session->Close();
      return done(added);
    }
    if (!hub->live().AddStream(parts.outbox)) {
      EndConnectSession(hub, parts, /*cancelled=*/false);
      return done(absl::UnavailableError("chat-core is shutting down"));
    }
    done(std::move(parts));
  });
}

bool ConnectSlot::Fill(ConnectSession parts) {
  bool ended;
  {
    absl::MutexLock lock(&mu_);
    parts_ = std::move(parts);
    ended = ended_;
  }
  if (ended) parts_->outbox->Finish(grpc::Status::CANCELLED);  // the client left while it was made
  return !ended;
}

bool ConnectSlot::End() {
  absl::MutexLock lock(&mu_);
  ended_ = true;
  return parts_.has_value();
}

bool ConnectSlot::filled() const {
  absl::MutexLock lock(&mu_);
  return parts_.has_value();
}

void ReadNextWhenRoom(const ConnectSession& parts, const std::function<void()>& start_read) {
  parts.outbox->ReadWhenRoom(parts.pause_reads_above, start_read);
}

void EndConnectSession(Hub* hub, const ConnectSession& parts, bool cancelled) {
  parts.outbox->CountEnd(cancelled);
  parts.outbox->Detach();
  parts.session->Close();
  hub->live().RemoveSession(parts.session.get());
  hub->live().RemoveStream(parts.outbox.get());
}

}  // namespace chat::core
