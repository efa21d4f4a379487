#include "core_metrics.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "chat/status.h"
#include "server.h"

namespace chat::core {
namespace {

constexpr const char* kKinds[] = {"connect", "gateway"};
constexpr const char* kStreamEndNames[kStreamEnds] = {"completed", "cancelled", "slow_consumer", "gap",
                                                      "auth",      "shutdown",  "bad_request",   "other"};

StreamEnd StreamEndFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return StreamEnd::kCompleted;
    case grpc::StatusCode::CANCELLED:
      return StreamEnd::kCancelled;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return StreamEnd::kSlowConsumer;
    case grpc::StatusCode::ABORTED:
      return StreamEnd::kGap;
    case grpc::StatusCode::UNAUTHENTICATED:
      return StreamEnd::kAuth;
    case grpc::StatusCode::UNAVAILABLE:
      return StreamEnd::kShutdown;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return StreamEnd::kBadRequest;
    default:
      return StreamEnd::kOther;
  }
}

std::string CodeLabel(absl::StatusCode code) { return absl::AsciiStrToLower(StatusCodeName(code)); }

}  // namespace

void StreamMetrics::Ended(grpc::StatusCode code) {
  if (prometheus::Counter* c = ended_[static_cast<int>(StreamEndFor(code))]) c->Increment();
}

CoreMetrics::CoreMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      counters_(std::make_shared<metrics::CallbackCollectable>()),
      state_(std::make_shared<metrics::CallbackCollectable>()),
      store_commit_seconds_(metrics::LatencyBuckets()),
      store_commit_writes_(metrics::PowersOfTwo(4096)),
      fanout_seconds_(metrics::LatencyBuckets()) {
  auto& ended = prometheus::BuildCounter()
                    .Name("chat_core_streams_ended_total")
                    .Help("Connect and gateway streams ended, by kind and reason (completed, cancelled, "
                          "slow_consumer, gap, auth, shutdown, bad_request, other)")
                    .Register(*registry_);
  for (int k = 0; k < 2; ++k) {
    for (int r = 0; r < kStreamEnds; ++r) {
      streams_[k].ended_[r] = Add(ended, {{"kind", kKinds[k]}, {"reason", kStreamEndNames[r]}});
    }
  }
  logins_ = &prometheus::BuildCounter()
                 .Name("chat_core_logins_total")
                 .Help("Login attempts by result (success, bad_credentials, rate_limited, busy, invalid, error)")
                 .Register(*registry_);
  for (const char* r : {"success", "bad_credentials", "rate_limited", "busy", "invalid", "error"}) {
    Add(*logins_, {{"result", r}});
  }
  registrations_ = &prometheus::BuildCounter()
                        .Name("chat_core_registrations_total")
                        .Help("Account registrations by result (success, taken, invalid, busy, error)")
                        .Register(*registry_);
  for (const char* r : {"success", "taken", "invalid", "busy", "error"}) Add(*registrations_, {{"result", r}});
  logouts_ = Add(prometheus::BuildCounter()
                     .Name("chat_core_logouts_total")
                     .Help("Sessions logged out (their token revoked)")
                     .Register(*registry_),
                 {});
  tokens_refused_ = Add(prometheus::BuildCounter()
                            .Name("chat_core_tokens_refused_total")
                            .Help("Calls, Connect streams and gateway sessions refused for a missing, unknown, "
                                  "revoked or expired token")
                            .Register(*registry_),
                        {});
  sessions_expired_ = Add(prometheus::BuildCounter()
                              .Name("chat_core_sessions_expired_total")
                              .Help("Live sessions ended because their token expired")
                              .Register(*registry_),
                          {});
  gateway_streams_refused_ = &prometheus::BuildCounter()
                                  .Name("chat_core_gateway_streams_refused_total")
                                  .Help("Gateway streams refused, by reason (credential, unavailable)")
                                  .Register(*registry_);
  for (const char* r : {"credential", "unavailable"}) Add(*gateway_streams_refused_, {{"reason", r}});
  gateway_sessions_closed_ = &prometheus::BuildCounter()
                                  .Name("chat_core_gateway_sessions_refused_total")
                                  .Help("Browser sessions on a gateway stream refused or closed by chat-core, by "
                                        "reason (auth, limits, unavailable, bad_request)")
                                  .Register(*registry_);
  for (const char* r : {"auth", "limits", "unavailable", "bad_request"}) Add(*gateway_sessions_closed_, {{"reason", r}});
  event_errors_ = &prometheus::BuildCounter()
                       .Name("chat_core_event_errors_total")
                       .Help("Error events answered to client events, by gRPC code (resource_exhausted: a "
                             "limit, such as sends in flight or rooms per session)")
                       .Register(*registry_);
  // The usual codes from the start, so dashboards and alerts have series at 0.
  for (auto code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                    absl::StatusCode::kAlreadyExists, absl::StatusCode::kPermissionDenied,
                    absl::StatusCode::kResourceExhausted, absl::StatusCode::kFailedPrecondition,
                    absl::StatusCode::kUnavailable, absl::StatusCode::kUnauthenticated}) {
    Add(*event_errors_, {{"code", CodeLabel(code)}});
  }
  counters_->Attach([this](metrics::FamilyBuilder& out) { Collect(out); });
}

CoreMetrics::~CoreMetrics() {
  Detach();
  counters_->Detach();
}

prometheus::Counter* CoreMetrics::Add(prometheus::Family<prometheus::Counter>& family,
                                      const prometheus::Labels& labels) {
  return &family.Add(labels);
}

void CoreMetrics::RegisterWith(metrics::MetricsServer& server) {
  server.Register(registry_);
  server.Register(counters_);
  server.Register(state_);
}

void CoreMetrics::Configure(CoreOptions* o) {
  o->hub.metrics = this;
  o->accounts.metrics = this;
  o->services.metrics = this;
  auto on_commit = [this](int64_t nanos, size_t writes) { StoreCommit(nanos, writes); };
  o->store.on_commit = on_commit;
  o->pg.on_commit = on_commit;
}

void CoreMetrics::Attach(CoreServer* server) {
  state_->Attach([server](metrics::FamilyBuilder& out) {
    Hub* hub = server->hub();
    out.Gauge("chat_core_serving", "1 while this node serves (gRPC health SERVING), else 0",
              server->serving() ? 1 : 0);
    const HubStats stats = hub->stats();
    out.Counter("chat_core_messages_stored_total", "Messages this node committed to the store",
                static_cast<double>(stats.messages_stored));
    out.Counter("chat_core_duplicate_sends_total",
                "Sends retried with a client_msg_id already stored (answered with the original seq)",
                static_cast<double>(stats.duplicate_sends));
    const char* queued_help =
        "Room events (messages, presence, typing) queued to streams: the deliveries of chat-core; a gateway "
        "stream takes one per room event for all its browsers";
    out.Counter("chat_core_room_events_queued_total", queued_help, static_cast<double>(stats.connect_room_frames),
                {{"kind", "connect"}});
    out.Counter("chat_core_room_events_queued_total", queued_help, static_cast<double>(stats.gateway_room_frames),
                {{"kind", "gateway"}});
    const auto kinds = hub->live().CountByKind();
    for (int k = 0; k < 2; ++k) {
      const metrics::Labels kind = {{"kind", kKinds[k]}};
      out.Gauge("chat_core_streams_open", "Open streams by kind (connect: one client each; gateway: one per ws-bridge)",
                static_cast<double>(kinds[k].streams), kind);
      out.Gauge("chat_core_sessions_open",
                "Live sessions by kind of stream (a gateway stream carries one per browser WebSocket)",
                static_cast<double>(kinds[k].sessions), kind);
      out.Gauge("chat_core_stream_queue_events", "Events waiting in the streams' outbound queues, summed",
                static_cast<double>(kinds[k].queued), kind);
      out.Gauge("chat_core_stream_queue_events_max", "The longest stream outbound queue, in events",
                static_cast<double>(kinds[k].max_queued), kind);
    }
    int64_t members = 0, joined = 0;
    const auto rooms = hub->Rooms();
    for (const auto& room : rooms) {
      members += room->member_count();
      joined += room->local_sessions();
    }
    out.Gauge("chat_core_rooms", "Rooms this node knows", static_cast<double>(rooms.size()));
    out.Gauge("chat_core_room_members",
              "Users present in rooms, summed over rooms (in a cluster, on every node)", static_cast<double>(members));
    out.Gauge("chat_core_room_sessions", "Sessions of this node joined to a room, summed over rooms",
              static_cast<double>(joined));
  });
}

void CoreMetrics::Detach() { state_->Detach(); }

void CoreMetrics::Collect(metrics::FamilyBuilder& out) const {
  for (int k = 0; k < 2; ++k) {
    out.Counter("chat_core_stream_events_written_total",
                "Events written to streams (deliveries sent; a batch counts its events)",
                static_cast<double>(streams_[k].events_written_.Value()), {{"kind", kKinds[k]}});
  }
  out.Histogram("chat_core_store_commit_seconds", "Time of one group commit of the store (SQLite or PostgreSQL)",
                store_commit_seconds_);
  out.Histogram("chat_core_store_commit_writes", "Writes in one group commit", store_commit_writes_);
  out.Histogram("chat_core_fanout_seconds",
                "For each message this node commits: from the commit to its event queued on every stream of "
                "this node in the room (the writes then start on the fan-out lanes)",
                fanout_seconds_);
}

void CoreMetrics::StoreCommit(int64_t nanos, size_t writes) {
  store_commit_seconds_.ObserveNanos(nanos);
  store_commit_writes_.Observe(static_cast<double>(writes));
}

void CoreMetrics::Login(const absl::Status& result, bool limited) {
  const char* r = "error";
  if (limited) {
    r = "rate_limited";
  } else if (result.ok()) {
    r = "success";
  } else if (absl::IsUnauthenticated(result)) {
    r = "bad_credentials";
  } else if (absl::IsResourceExhausted(result)) {
    r = "busy";
  } else if (absl::IsInvalidArgument(result)) {
    r = "invalid";
  }
  logins_->Add({{"result", r}}).Increment();
}

void CoreMetrics::Registration(const absl::Status& result) {
  const char* r = "error";
  if (result.ok()) {
    r = "success";
  } else if (absl::IsAlreadyExists(result)) {
    r = "taken";
  } else if (absl::IsInvalidArgument(result)) {
    r = "invalid";
  } else if (absl::IsResourceExhausted(result)) {
    // The per-address limit, or the registration hashing queue.
    r = absl::StrContains(result.message(), "from this address") ? "rate_limited" : "busy";
  }
  registrations_->Add({{"result", r}}).Increment();
}

void CoreMetrics::GatewayStreamRefused(bool credential) {
  gateway_streams_refused_->Add({{"reason", credential ? "credential" : "unavailable"}}).Increment();
}

void CoreMetrics::GatewaySessionClosed(absl::StatusCode code) {
  const char* r = "bad_request";
  if (code == absl::StatusCode::kUnauthenticated) {
    r = "auth";
  } else if (code == absl::StatusCode::kResourceExhausted) {
    r = "limits";
  } else if (code == absl::StatusCode::kUnavailable) {
    r = "unavailable";
  }
  gateway_sessions_closed_->Add({{"reason", r}}).Increment();
}

void CoreMetrics::EventError(absl::StatusCode code) { event_errors_->Add({{"code", CodeLabel(code)}}).Increment(); }

}  // namespace chat::core
