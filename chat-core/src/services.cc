#include "services.h"

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpcpp/impl/codegen/completion_queue_tag.h>
#include <sodium.h>

#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chat/log.h"
#include "chat/status.h"
#include "chat/validate.h"
#include "frames.h"
#include "google/protobuf/util/time_util.h"

namespace grpc::internal {
// ByteBuffer befriends this class (declared in byte_buffer.h, defined by no
// library; gRPC's own tests define it the same way), so that code outside the
// library can reach the C buffer inside. ConnectCall hands ByteBuffers to gRPC
// core's C API through it.
class GrpcByteBufferPeer {
 public:
  explicit GrpcByteBufferPeer(ByteBuffer* bb) : bb_(bb) {}
  grpc_byte_buffer* c_buffer() { return bb_->c_buffer(); }
  grpc_byte_buffer** c_buffer_ptr() { return bb_->c_buffer_ptr(); }

 private:
  ByteBuffer* bb_;
};
}  // namespace grpc::internal

namespace chat::core {
namespace {

using google::protobuf::util::TimeUtil;

constexpr char kGatewaySecretHeader[] = "x-chat-gateway-secret";
constexpr char kBatchHeader[] = "x-chat-batch";
// ChatService.Connect's path (the generated one is not registered; see services.h).
constexpr char kConnectPath[] = "/chat.v1.ChatService/Connect";

absl::string_view Metadata(const grpc::ServerContextBase& ctx, absl::string_view key) {
  const auto& md = ctx.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

absl::string_view SliceView(const grpc_slice& slice) {
  return absl::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)), GRPC_SLICE_LENGTH(slice));
}

// The first value of `key` in metadata as gRPC core hands it over (keys are
// lowercase); nullopt if absent.
std::optional<absl::string_view> FindMetadata(const grpc_metadata_array& md, absl::string_view key) {
  for (size_t i = 0; i < md.count; ++i) {
    if (SliceView(md.metadata[i].key) == key) return SliceView(md.metadata[i].value);
  }
  return std::nullopt;
}

// The `x-chat-batch` metadata of a Connect call: the most events the client takes
// in one ServerEvent{batch}; 1 (one event per message) when absent.
absl::StatusOr<size_t> BatchLimit(std::optional<absl::string_view> value) {
  if (!value) return 1;
  size_t n = 0;
  if (!absl::SimpleAtoi(*value, &n) || n < 1 || n > kMaxBatchEvents) {
    return absl::InvalidArgumentError(absl::StrCat(
        kBatchHeader, " must be a whole number from 1 to ", kMaxBatchEvents,
        " (the most events per message), not \"", absl::CHexEscape(*value), "\""));
  }
  return n;
}

// A Gateway stream that could not start: finishes at once.
class RejectReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RejectReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

// The part of the Gateway reactor that the Outbox drives.
class RawStreamReactor : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                         public OutboxWriter {
 public:
  void StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override {
    StartWrite(buffer, options);
  }
  void FinishStream(const grpc::Status& status) override { Finish(status); }
};

// ---------------------------------------------------------------------------
// Connect: one session per stream, on gRPC core's C API (grpc_call_start_batch),
// which holds a long-lived idle stream in less memory than the C++ API's
// ServerContext and ServerAsyncReaderWriter (about 3 KB per call; see
// docs/benchmarks.md). Each call is bound to a fan-out lane's completion queue,
// and that lane's thread runs all of the call's completions and starts its
// room-frame writes, so a write's completion does not wake another thread (see
// WriteKicker). Every operation starts through WriteKicker::StartOnQueue, so none
// starts once the queue is shutting down.
//
// At most one batch per kind is out at a time (gRPC core refuses a second):
// one read, one write or finish, and the done batch (RECV_CLOSE_ON_SERVER).
// A batch's first op picks its slot in the call; writes put SEND_MESSAGE first
// so that the first write (which also carries the initial metadata) and the
// later ones share a slot, and a call keeps three slots instead of four.
//
// Lifetime: deletes itself once the call is over (its done batch returned) and
// no operation it started is still out; the session, its outbox and the hub's
// records of them are released then.
class ConnectCall final : public OutboxWriter {
 public:
  ConnectCall(grpc_server* server, void* method, Hub* hub, const Authenticator* auth,
              const ServiceOptions* options, size_t lane)
      : server_(server),
        method_(method),
        hub_(hub),
        auth_(auth),
        options_(options),
        lane_(lane),
        pause_reads_above_(options->connect_outbox.max_events / 2) {
    grpc_metadata_array_init(&metadata_);
  }
  ~ConnectCall() override {
    grpc_metadata_array_destroy(&metadata_);
    grpc_slice_unref(status_details_);
    if (call_ != nullptr) grpc_call_unref(call_);  // cancels it if still running
  }

  // Waits for the next Connect call on the lane's queue.
  void Request() {
    grpc_call_error error = GRPC_CALL_OK;
    // Counted until its tag is back, so the lane's queue does not shut down
    // with a request still on it.
    bool requested = hub_->kicker()->StartRequestOnQueue(lane_, [&](grpc::ServerCompletionQueue* cq) {
      error = grpc_server_request_registered_call(server_, method_, &call_, &deadline_, &metadata_,
                                                  /*optional_payload=*/nullptr, cq->cq(), cq->cq(),
                                                  requested_op_.tag());
    });
    if (!requested) {  // shutting down
      delete this;
      return;
    }
    if (error != GRPC_CALL_OK) {  // only a queue not registered with the server gets here
      CHAT_LOG_ERROR("connect", "cannot take Connect calls on lane %d: gRPC call error %d",
                     static_cast<int>(lane_), static_cast<int>(error));
      hub_->kicker()->RequestReturned(lane_);
      delete this;
    }
  }

  // OutboxWriter (called with the outbox lock held).
  void StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override {
    absl::MutexLock lock(&mu_);
    if (done_ || finishing_) return;
    // The op takes the copy's slices (references to the shared frame's bytes).
    sending_ = grpc_byte_buffer_copy(CBuffer(buffer));
    grpc_op ops[2] = {};
    ops[0].op = GRPC_OP_SEND_MESSAGE;
    ops[0].flags = options.flags();
    ops[0].data.send_message.send_message = sending_;
    size_t n = 1 + AddInitialMetadataLocked(&ops[1]);
    write_in_flight_ = StartBatchLocked(ops, n, &written_op_);
    if (!write_in_flight_) DropSendingLocked();
  }
  void FinishStream(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    if (done_ || finishing_) return;
    finishing_ = true;
    // One write or finish at a time: a finish waits for the write out.
    if (write_in_flight_) {
      finish_status_ = status;
      return;
    }
    StartFinishLocked(status);
  }

 private:
  // Completes on the lane's queue. gRPC's C++ queue hands an event's tag to
  // FinalizeResult, which turns it into what the lane's thread runs (a CqTag).
  struct Op final : grpc::internal::CompletionQueueTag, CqTag {
    Op(ConnectCall* call, void (ConnectCall::*on)(bool)) : call(call), on(on) {}
    bool FinalizeResult(void** tag, bool* /*status*/) override {
      *tag = static_cast<CqTag*>(this);
      return true;
    }
    void Run(bool ok) override {
      (call->*on)(ok);  // may delete the call (and this)
    }
    void* tag() { return static_cast<grpc::internal::CompletionQueueTag*>(this); }
    ConnectCall* const call;
    void (ConnectCall::*const on)(bool);
  };

  static grpc_byte_buffer* CBuffer(const grpc::ByteBuffer* buffer) {
    return grpc::internal::GrpcByteBufferPeer(const_cast<grpc::ByteBuffer*>(buffer)).c_buffer();
  }

  // Starts `ops` as one batch completing on `op`; `counted` as an operation out.
  bool StartBatchLocked(const grpc_op* ops, size_t n, Op* op, bool counted = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    grpc_call_error error = GRPC_CALL_OK;
    bool started = hub_->kicker()->StartOnQueue(lane_, [&](grpc::ServerCompletionQueue*) {
      error = grpc_call_start_batch(call_, ops, n, op->tag(), nullptr);
    });
    if (!started) return false;
    if (error != GRPC_CALL_OK) {  // a bug here (two batches of one kind at once)
      CHAT_LOG_ERROR("connect", "gRPC refused a batch (call error %d)", static_cast<int>(error));
      return false;
    }
    if (counted) ++ops_;
    return true;
  }
  // The call's (empty) initial metadata goes with its first write or its finish.
  size_t AddInitialMetadataLocked(grpc_op* op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (sent_initial_metadata_) return 0;
    sent_initial_metadata_ = true;
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = 0;
    return 1;
  }
  void DropSendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (sending_ != nullptr) grpc_byte_buffer_destroy(sending_);
    sending_ = nullptr;
  }
  void StartFinishLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string& message = status.error_message();
    grpc_slice_unref(status_details_);
    status_details_ = grpc_slice_from_copied_buffer(message.data(), message.size());
    grpc_op ops[2] = {};
    ops[0].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[0].data.send_status_from_server.trailing_metadata_count = 0;
    ops[0].data.send_status_from_server.status = static_cast<grpc_status_code>(status.error_code());
    ops[0].data.send_status_from_server.status_details = message.empty() ? nullptr : &status_details_;
    size_t n = 1 + AddInitialMetadataLocked(&ops[1]);
    StartBatchLocked(ops, n, &finished_op_);
  }
  void StartRead() {
    absl::MutexLock lock(&mu_);
    if (done_ || finishing_) return;
    grpc_op op = {};
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = grpc::internal::GrpcByteBufferPeer(&in_).c_buffer_ptr();
    StartBatchLocked(&op, 1, &read_op_);
  }
  void OnRequested(bool ok) {
    hub_->kicker()->RequestReturned(lane_);
    if (!ok) {  // the server is shutting down; no call came
      delete this;
      return;
    }
    (new ConnectCall(server_, method_, hub_, auth_, options_, lane_))->Request();
    {
      absl::MutexLock lock(&mu_);
      started_ = true;
      // The done batch does not count as an operation: it may even come back
      // before the others (a client that cancels at once).
      grpc_op op = {};
      op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
      op.data.recv_close_on_server.cancelled = &cancelled_;
      if (!StartBatchLocked(&op, 1, &done_op_, /*counted=*/false)) {
        done_ = true;  // the queue is shutting down; the server cancels the call
      }
    }
    Begin();
    MaybeRelease();
  }

  void Begin() {
    auto id = auth_->Authenticate([this](absl::string_view key) { return FindMetadata(metadata_, key).value_or(""); });
    absl::StatusOr<size_t> batch = id.ok() ? BatchLimit(FindMetadata(metadata_, kBatchHeader)) : 1;
    // What the client sent is read; its array goes (the values belong to the call).
    grpc_metadata_array_destroy(&metadata_);
    grpc_metadata_array_init(&metadata_);
    if (!id.ok()) {
      FinishStream(ToGrpcStatus(id.status()));
      return;
    }
    if (hub_->shutting_down()) {
      FinishStream(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
      return;
    }
    if (!batch.ok()) {
      FinishStream(ToGrpcStatus(batch.status()));
      return;
    }
    OutboxLimits limits = options_->connect_outbox;
    limits.max_batch = *batch;
    outbox_ = std::make_shared<Outbox>(Outbox::Kind::kConnect, this, limits,
                                       hub_->room_frame_counter(Outbox::Kind::kConnect), hub_->kicker(), lane_);
    session_ = std::make_shared<Session>(hub_, outbox_, 0, std::move(*id), options_->connect_session);
    std::weak_ptr<Outbox> weak_outbox = outbox_;
    session_->SetResumeHook([this, weak_outbox, limit = pause_reads_above_] {
      // Touches nothing of the call's outside the outbox lock, which keeps the call
      // alive (Detach, in MaybeRelease, takes it; ReadWhenRoom then does nothing).
      if (auto o = weak_outbox.lock()) o->ReadWhenRoom(limit, [this] { StartRead(); });
    });
    session_->SetKillHook([weak_outbox](const absl::Status& status) {
      if (auto o = weak_outbox.lock()) o->Finish(ToGrpcStatus(status));
    });
    session_->SetDrainedHook([weak_outbox] {
      if (auto o = weak_outbox.lock()) o->FinishWhenDrained(grpc::Status::OK);
    });
    hub_->AddSession(session_);
    if (!hub_->AddStream(outbox_)) {
      outbox_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
      return;
    }
    StartRead();
  }

  void OnRead(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      --ops_;  // one operation came back
    }
    if (!ok || !in_.Valid()) {  // no message: the end of the client's stream
      CHAT_LOG_DEBUG("connect", "read side of %s closed", session_->identity().user);
      // The client half-closed (or left): finish once its sends are answered.
      session_->ClientDone();
    } else {
      chat::v1::ClientEvent event;
      bool parsed = ParseFromByteBuffer(in_, &event);
      in_.Clear();
      bool more = true;
      if (!parsed) {
        session_->RejectUnreadable("cannot parse the ClientEvent");
      } else {
        more = session_->Handle(event);
      }
      // Otherwise the session resumes reading once its sends are answered.
      if (more) ReadNext(outbox_.get());
    }
    MaybeRelease();
  }

  void OnWritten(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      --ops_;
      write_in_flight_ = false;
      DropSendingLocked();
      if (finish_status_ && !done_) {
        StartFinishLocked(*finish_status_);
        finish_status_.reset();
      }
    }
    outbox_->OnWriteDone(ok);
    MaybeRelease();
  }

  void OnFinished(bool) {
    {
      absl::MutexLock lock(&mu_);
      --ops_;
    }
    MaybeRelease();
  }

  void OnDone(bool) {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    // Cancelled (the client left, a deadline, or the server's shutdown): what is
    // queued is dropped and no status is sent.
    if (outbox_ != nullptr && cancelled_ != 0) outbox_->Finish(grpc::Status::CANCELLED);
    MaybeRelease();
  }

  void MaybeRelease() {
    {
      absl::MutexLock lock(&mu_);
      if (!started_ || !done_ || ops_ > 0 || released_) return;
      released_ = true;
    }
    if (outbox_ != nullptr) {
      CHAT_LOG_DEBUG("connect", "stream of %s done", session_->identity().user);
      outbox_->Detach();
      session_->Close();
      hub_->RemoveSession(session_.get());
      hub_->RemoveStream(outbox_.get());
    }
    delete this;
  }

  // Reads the client's next event, unless the client sends faster than it reads
  // what comes back (acks, its own messages): then its events wait until its
  // queue drains, so a fast sender is slowed down by flow control instead of
  // overflowing its stream.
  void ReadNext(Outbox* outbox) {
    outbox->ReadWhenRoom(pause_reads_above_, [this] { StartRead(); });
  }

  grpc_server* const server_;
  void* const method_;
  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
  const size_t lane_;
  const size_t pause_reads_above_;
  grpc_call* call_ = nullptr;
  gpr_timespec deadline_;
  grpc_metadata_array metadata_;
  // Written by gRPC when the done batch returns: nonzero if the call was cancelled.
  int cancelled_ = 0;
  Op requested_op_{this, &ConnectCall::OnRequested};
  Op read_op_{this, &ConnectCall::OnRead};
  Op written_op_{this, &ConnectCall::OnWritten};
  Op finished_op_{this, &ConnectCall::OnFinished};
  Op done_op_{this, &ConnectCall::OnDone};
  std::shared_ptr<Outbox> outbox_;
  std::shared_ptr<Session> session_;
  grpc::ByteBuffer in_;

  absl::Mutex mu_;
  // The message of the write in flight (gRPC core takes its slices).
  grpc_byte_buffer* sending_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc_slice status_details_ ABSL_GUARDED_BY(mu_) = grpc_empty_slice();
  // Reads, writes and finishes started and not yet back.
  int ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_initial_metadata_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

// ---------------------------------------------------------------------------
// Gateway: many browser sessions on one stream from a ws-bridge.
class GatewayReactor : public RawStreamReactor {
 public:
  GatewayReactor(grpc::CallbackServerContext* ctx, Hub* hub, Accounts* accounts,
                 const ServiceOptions& options, std::string peer)
      : ctx_(ctx), hub_(hub), accounts_(accounts), options_(options), peer_(std::move(peer)) {
    outbox_ = std::make_shared<Outbox>(Outbox::Kind::kGateway, this, options.gateway_outbox,
                                       hub->room_frame_counter(Outbox::Kind::kGateway), hub->kicker());
    if (!hub_->AddStream(outbox_)) {
      outbox_->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
      return;
    }
    CHAT_LOG_INFO("gateway", "gateway stream from %s opened", peer_);
    // Tells the bridge at once that the stream was accepted (a refused one gets
    // trailers only, without this marker).
    ctx_->AddInitialMetadata("x-chat-gateway", "accepted");
    StartSendInitialMetadata();
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      CloseAllSessions();
      outbox_->FinishWhenDrained(grpc::Status::OK);
      return;
    }
    chat::v1::GatewayUp up;
    bool parsed = ParseFromByteBuffer(in_, &up);
    in_.Clear();
    if (!parsed || up.session() == 0) {
      outbox_->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   parsed ? "GatewayUp.session must not be 0"
                                          : "cannot parse GatewayUp"));
      return;
    }
    switch (up.item_case()) {
      case chat::v1::GatewayUp::kOpen:
        Open(up.session(), up.open());
        break;
      case chat::v1::GatewayUp::kEvent:
        if (auto s = Find(up.session())) {
          s->Handle(up.event(), up.request());
        } else {
          SendClosed(up.session(), absl::NotFoundError("no such session on this gateway stream"));
        }
        break;
      case chat::v1::GatewayUp::kClose:
        CloseSession(up.session());
        break;
      case chat::v1::GatewayUp::ITEM_NOT_SET:
        SendClosed(up.session(), absl::InvalidArgumentError("empty GatewayUp item"));
        break;
    }
    outbox_->IfOpen([this] { StartRead(&in_); });
  }

  void OnWriteDone(bool ok) override { outbox_->OnWriteDone(ok); }
  void OnCancel() override { outbox_->Finish(grpc::Status::CANCELLED); }

  void OnDone() override {
    outbox_->Detach();
    CloseAllSessions();
    hub_->RemoveStream(outbox_.get());
    CHAT_LOG_INFO("gateway", "gateway stream from %s closed", peer_);
    delete this;
  }

 private:
  void SendClosed(uint64_t id, const absl::Status& status) {
    outbox_->PushMessage(ClosedItem(id, status));
  }

  static chat::v1::GatewayDown ClosedItem(uint64_t id, const absl::Status& status) {
    chat::v1::GatewayDown down;
    down.set_session(id);
    down.mutable_closed()->set_code(ToErrorCode(status.code()));
    down.mutable_closed()->set_reason(std::string(status.message()));
    return down;
  }

  std::shared_ptr<Session> Find(uint64_t id) {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
  }

  void Open(uint64_t id, const chat::v1::SessionOpen& open) {
    {
      absl::MutexLock lock(&mu_);
      if (sessions_.contains(id)) {
        return SendClosed(id, absl::AlreadyExistsError("session id already open on this stream"));
      }
      if (sessions_.size() >= options_.max_sessions_per_gateway) {
        return SendClosed(id,
                          absl::ResourceExhaustedError("too many sessions on this gateway stream"));
      }
    }
    auto identity = accounts_->AuthenticateToken(open.token(), open.guest_name());
    if (!identity.ok()) return SendClosed(id, identity.status());
    auto session = std::make_shared<Session>(hub_, outbox_, id, *identity, options_.gateway_session);
    std::weak_ptr<Session> weak_session = session;
    std::weak_ptr<Outbox> weak_outbox = outbox_;
    // Logout or expiry: leave the rooms now and tell the bridge, which closes the
    // browser's WebSocket and then closes the session here.
    session->SetKillHook([weak_outbox, weak_session, id](const absl::Status& status) {
      if (auto s = weak_session.lock()) s->Close();
      if (auto o = weak_outbox.lock()) o->PushMessage(ClosedItem(id, status));
    });
    {
      absl::MutexLock lock(&mu_);
      sessions_[id] = session;
    }
    hub_->AddSession(session);
    chat::v1::GatewayDown down;
    down.set_session(id);
    down.mutable_opened()->set_user(identity->user);
    outbox_->PushMessage(down);
  }

  void CloseSession(uint64_t id) {
    std::shared_ptr<Session> s;
    {
      absl::MutexLock lock(&mu_);
      auto it = sessions_.find(id);
      if (it == sessions_.end()) return;
      s = std::move(it->second);
      sessions_.erase(it);
    }
    s->Close();
    hub_->RemoveSession(s.get());
  }

  void CloseAllSessions() {
    absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> all;
    {
      absl::MutexLock lock(&mu_);
      all.swap(sessions_);
    }
    for (auto& [id, s] : all) {
      s->Close();
      hub_->RemoveSession(s.get());
    }
  }

  grpc::CallbackServerContext* const ctx_;
  Hub* const hub_;
  Accounts* const accounts_;
  const ServiceOptions& options_;
  const std::string peer_;
  std::shared_ptr<Outbox> outbox_;
  grpc::ByteBuffer in_;
  absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
};

// Runs `body` (which calls back exactly once) and finishes the unary call with
// what it reports.
template <typename Fn>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, Fn body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  body([reactor](const absl::Status& status) { reactor->Finish(ToGrpcStatus(status)); });
  return reactor;
}

grpc::ServerUnaryReactor* Reject(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

// ---------------------------------------------------------------------------
// Authenticator

absl::StatusOr<Identity> Authenticator::Authenticate(const grpc::ServerContextBase& ctx) const {
  return Authenticate([&ctx](absl::string_view key) { return Metadata(ctx, key); });
}

absl::StatusOr<Identity> Authenticator::Authenticate(
    absl::FunctionRef<absl::string_view(absl::string_view)> metadata) const {
  return accounts_->Authenticate(metadata("authorization"), metadata("x-chat-user"));
}

bool Authenticator::IsGateway(const grpc::ServerContextBase& ctx) const {
  if (!gateway_secret_->empty()) {
    absl::string_view given = Metadata(ctx, kGatewaySecretHeader);
    return given.size() == gateway_secret_->size() &&
           sodium_memcmp(given.data(), gateway_secret_->data(), given.size()) == 0;
  }
  std::string peer = ctx.peer();
  return absl::StartsWith(peer, "ipv4:127.") || absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "ipv6:%5B::1%5D") || absl::StartsWith(peer, "unix:");
}

std::string Authenticator::Peer(const grpc::ServerContextBase& ctx) const {
  absl::string_view forwarded = Metadata(ctx, "x-forwarded-for");
  if (!forwarded.empty() && IsGateway(ctx)) {
    return std::string(absl::StripAsciiWhitespace(forwarded.substr(0, forwarded.find(','))));
  }
  // "ipv4:127.0.0.1:5555" -> "ipv4:127.0.0.1": the port changes per connection.
  std::string peer = ctx.peer();
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos && colon > peer.find(':')) peer.resize(colon);
  return peer;
}

// ---------------------------------------------------------------------------
// ChatService

ChatServiceImpl::ChatServiceImpl(Hub* hub, const Authenticator* auth, const ServiceOptions* options)
    : connect_method_(new grpc::internal::RpcServiceMethod(kConnectPath, grpc::internal::RpcMethod::BIDI_STREAMING,
                                                           /*handler=*/nullptr)),
      hub_(hub),
      auth_(auth),
      options_(options) {
  // A raw async method of this service (so the service is still listed once):
  // the server registers it with gRPC core and keeps the core's handle in
  // server_tag(), which ConnectCall asks for calls with.
  connect_method_->SetServerApiType(grpc::internal::RpcServiceMethod::ApiType::RAW);
  AddMethod(connect_method_);
}

grpc::ServerUnaryReactor* ChatServiceImpl::CreateRoom(grpc::CallbackServerContext* ctx,
                                                      const chat::v1::CreateRoomRequest* req,
                                                      chat::v1::Room* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  return Unary(ctx, [&](auto finish) {
    hub_->CreateRoom(req->name(), id->user, [resp, finish](absl::StatusOr<chat::v1::Room> r) {
      if (r.ok()) *resp = std::move(*r);
      finish(r.status());
    });
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::ListRooms(grpc::CallbackServerContext* ctx,
                                                     const chat::v1::ListRoomsRequest* req,
                                                     chat::v1::ListRoomsResponse* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  *resp = hub_->ListRooms();
  return Reject(ctx, absl::OkStatus());
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetRoom(grpc::CallbackServerContext* ctx,
                                                   const chat::v1::GetRoomRequest* req,
                                                   chat::v1::Room* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  auto room = hub_->LookupRoom(req->name());
  if (room.ok()) (*room)->Describe(resp);
  return Reject(ctx, room.status());
}

grpc::ServerUnaryReactor* ChatServiceImpl::SendMessage(grpc::CallbackServerContext* ctx,
                                                       const chat::v1::SendMessageRequest* req,
                                                       chat::v1::SendMessageResponse* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  auto room = hub_->LookupRoom(req->room());
  if (!room.ok()) return Reject(ctx, room.status());
  absl::Status valid = ValidateText(req->text(), hub_->options().max_text_bytes);
  if (valid.ok()) valid = ValidateClientMsgId(req->client_msg_id());
  if (!valid.ok()) return Reject(ctx, valid);
  return Unary(ctx, [&](auto finish) {
    hub_->Send(*id, *room, req->text(), req->client_msg_id(),
               [resp, finish](absl::StatusOr<chat::v1::Message> m, bool duplicate) {
                 if (m.ok()) {
                   *resp->mutable_message() = std::move(*m);
                   resp->set_duplicate(duplicate);
                 }
                 finish(m.status());
               });
  });
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetHistory(grpc::CallbackServerContext* ctx,
                                                      const chat::v1::GetHistoryRequest* req,
                                                      chat::v1::GetHistoryResponse* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  return Unary(ctx, [&](auto finish) {
    hub_->History(*req, [resp, finish](absl::StatusOr<chat::v1::GetHistoryResponse> r) {
      if (r.ok()) *resp = std::move(*r);
      finish(r.status());
    });
  });
}

void ChatServiceImpl::StartConnectCalls(grpc::Server* server) {
  // A few calls waiting per lane, so a burst of new streams does not wait for
  // each accepted one to ask for the next.
  constexpr int kWaitingPerLane = 16;
  WriteKicker* lanes = hub_->kicker();
  for (size_t lane = 0; lane < lanes->lanes(); ++lane) {
    for (int i = 0; i < kWaitingPerLane; ++i) (new ConnectCall(server->c_server(), connect_method_->server_tag(), hub_, auth_, options_, lane))
        ->Request();
  }
}

// ---------------------------------------------------------------------------
// GatewayService

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GatewayServiceImpl::Gateway(
    grpc::CallbackServerContext* ctx) {
  if (!auth_->IsGateway(*ctx)) {
    CHAT_LOG_WARN("gateway", "refused a gateway stream from %s: bad gateway credential", ctx->peer());
    return new RejectReactor(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        options_->gateway_secret.empty()
            ? "gateway streams are accepted from loopback only unless a gateway secret is set"
            : "missing or wrong x-chat-gateway-secret"));
  }
  if (hub_->shutting_down()) {
    return new RejectReactor(grpc::Status(grpc::StatusCode::UNAVAILABLE, "chat-core is shutting down"));
  }
  return new GatewayReactor(ctx, hub_, accounts_, *options_, ctx->peer());
}

// ---------------------------------------------------------------------------
// AuthService

grpc::ServerUnaryReactor* AuthServiceImpl::Register(grpc::CallbackServerContext* ctx,
                                                    const chat::v1::RegisterRequest* req,
                                                    chat::v1::RegisterResponse* resp) {
  return Unary(ctx, [&](auto finish) {
    accounts_->Register(req->username(), req->password(),
                        [resp, finish](absl::StatusOr<std::string> name) {
                          if (name.ok()) resp->set_username(*name);
                          finish(name.status());
                        });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::Login(grpc::CallbackServerContext* ctx,
                                                 const chat::v1::LoginRequest* req,
                                                 chat::v1::LoginResponse* resp) {
  std::string peer = auth_->Peer(*ctx);
  return Unary(ctx, [&](auto finish) {
    accounts_->Login(req->username(), req->password(), peer,
                     [resp, finish](absl::StatusOr<LoginResult> r) {
                       if (r.ok()) {
                         resp->set_token(r->token);
                         resp->set_username(r->username);
                         *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(r->expires_at_ms);
                       }
                       finish(r.status());
                     });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::Logout(grpc::CallbackServerContext* ctx,
                                                  const chat::v1::LogoutRequest* req,
                                                  chat::v1::LogoutResponse* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  Hub* hub = hub_;
  return Unary(ctx, [&](auto finish) {
    Identity who = *id;
    accounts_->Logout(who, [hub, who, finish](absl::Status st) {
      if (st.ok()) hub->KillSessionsWithToken(who.token_hash, "logged out");
      finish(st);
    });
  });
}

grpc::ServerUnaryReactor* AuthServiceImpl::WhoAmI(grpc::CallbackServerContext* ctx,
                                                  const chat::v1::WhoAmIRequest* req,
                                                  chat::v1::WhoAmIResponse* resp) {
  auto id = auth_->Authenticate(*ctx);
  if (!id.ok()) return Reject(ctx, id.status());
  resp->set_username(id->user);
  resp->set_guest(id->guest);
  if (id->expires_at_ms != 0) {
    *resp->mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(id->expires_at_ms);
  }
  return Reject(ctx, absl::OkStatus());
}

}  // namespace chat::core
