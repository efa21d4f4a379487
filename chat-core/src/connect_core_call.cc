// ConnectCall: one Connect stream on gRPC core's C API (grpc_call_start_batch).
// See connect_core_call.h for why, and docs/architecture.md ("Connect on gRPC
// core's C API") for the measurements behind it.
//
// Each call is bound to a fan-out lane's completion queue, and that lane's
// thread runs all of the call's completions and starts its room-frame writes,
// so a write's completion does not wake another thread (see WriteKicker).
// Every operation starts through WriteKicker::StartOnQueue, so none starts once
// the queue is shutting down.
//
// At most one batch per kind is out at a time (gRPC core refuses a second):
// one read, one write or finish, and the done batch (RECV_CLOSE_ON_SERVER). A
// batch's first op picks its slot in the call; writes put SEND_MESSAGE first
// so that the first write (which also carries the initial metadata) and the
// later ones share a slot, and a call keeps three slots instead of four.
//
// Messages cross between grpc::ByteBuffer and gRPC core's grpc_byte_buffer
// through public API only (grpc::Slice::c_slice, grpc_raw_byte_buffer_create,
// grpc_byte_buffer_reader). The internals used are gRPC's codegen layer: a
// method registered by path (RpcServiceMethod::server_tag) and completion
// queue tags (grpc::internal::CompletionQueueTag), both stable within 1.51.
#include "connect_core_call.h"

#if CHAT_CONNECT_ON_CORE_API

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>
#include <grpcpp/impl/codegen/completion_queue_tag.h>

#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "chat/log.h"
#include "chat/status.h"
#include "connect_session.h"
#include "write_kicker.h"

namespace chat::core {
namespace {

constexpr char kLog[] = "connect";
constexpr char kConnectPath[] = "/chat.v1.ChatService/Connect";

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

// A received message parsed as a ClientEvent; false if it is not one.
bool ParseCBuffer(grpc_byte_buffer* buffer, chat::v1::ClientEvent* event) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, buffer)) return false;
  grpc_slice all = grpc_byte_buffer_reader_readall(&reader);
  grpc_byte_buffer_reader_destroy(&reader);
  bool ok = event->ParseFromArray(GRPC_SLICE_START_PTR(all), static_cast<int>(GRPC_SLICE_LENGTH(all)));
  grpc_slice_unref(all);
  return ok;
}

class ConnectCall final : public OutboxWriter {
 public:
  ConnectCall(grpc_server* server, void* method, Hub* hub, const Authenticator* auth,
              const ServiceOptions* options, size_t lane)
      : server_(server), method_(method), hub_(hub), auth_(auth), options_(options), lane_(lane) {
    grpc_metadata_array_init(&metadata_);
  }
  ~ConnectCall() override {
    grpc_metadata_array_destroy(&metadata_);
    grpc_slice_unref(status_details_);
    if (in_ != nullptr) grpc_byte_buffer_destroy(in_);
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
      CHAT_LOG_ERROR(kLog, "cannot take Connect calls on lane %d: gRPC call error %d", static_cast<int>(lane_),
                     static_cast<int>(error));
      hub_->kicker()->RequestReturned(lane_);
      delete this;
    }
  }

  // OutboxWriter (called with the outbox lock held).
  void StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override {
    absl::MutexLock lock(&mu_);
    if (done_ || finishing_) return;
    sending_ = ToCBufferLocked(*buffer);
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

  // The message as gRPC core takes it: references to the same slices (the
  // shared frame's bytes), no copy.
  grpc_byte_buffer* ToCBufferLocked(const grpc::ByteBuffer& buffer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // A room frame is one slice: take a reference to it without a reader.
    grpc::Slice single;
    if (buffer.TrySingleSlice(&single).ok()) {
      grpc_slice c = single.c_slice();  // one reference, handed to the buffer
      grpc_byte_buffer* out = grpc_raw_byte_buffer_create(&c, 1);
      grpc_slice_unref(c);
      return out;
    }
    dump_.clear();
    (void)buffer.Dump(&dump_);
    c_slices_.clear();
    for (const grpc::Slice& s : dump_) c_slices_.push_back(s.c_slice());  // one reference each
    grpc_byte_buffer* out = grpc_raw_byte_buffer_create(c_slices_.data(), c_slices_.size());
    for (grpc_slice& s : c_slices_) grpc_slice_unref(s);
    dump_.clear();
    return out;
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
      CHAT_LOG_ERROR(kLog, "gRPC refused a batch (call error %d)", static_cast<int>(error));
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
    op.data.recv_message.recv_message = &in_;
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
    ConnectMetadata md = ReadConnectMetadata([this](absl::string_view key) { return FindMetadata(metadata_, key); });
    // What the client sent is read; its array goes (the values belong to the call).
    grpc_metadata_array_destroy(&metadata_);
    grpc_metadata_array_init(&metadata_);
    {
      absl::MutexLock lock(&mu_);
      ++ops_;  // authenticating: the call stays until it answers
      beginning_ = true;
    }
    StartConnectSession(hub_, *auth_, *options_, std::move(md), this, lane_, [this] { StartRead(); },
                        [this](absl::StatusOr<ConnectSession> parts) { Began(std::move(parts)); });
    absl::MutexLock lock(&mu_);
    beginning_ = false;
  }

  // The session is made (or refused): now, or once a store answered.
  void Began(absl::StatusOr<ConnectSession> parts) {
    if (!parts.ok()) {
      FinishStream(ToGrpcStatus(parts.status()));
    } else if (parts_.Fill(std::move(*parts))) {
      StartRead();
    }
    bool inline_answer;
    {
      absl::MutexLock lock(&mu_);
      --ops_;
      inline_answer = beginning_;
    }
    // Answered inside Begin: OnRequested releases the call if it is over.
    if (!inline_answer) MaybeRelease();
  }

  void OnRead(bool ok) {
    grpc_byte_buffer* in;
    {
      absl::MutexLock lock(&mu_);
      --ops_;  // one operation came back
      in = in_;
      in_ = nullptr;
    }
    if (!ok || in == nullptr) {  // no message: the end of the client's stream
      // The client half-closed (or left): finish once its sends are answered.
      parts_->session->ClientDone();
    } else {
      chat::v1::ClientEvent event;
      bool parsed = ParseCBuffer(in, &event);
      grpc_byte_buffer_destroy(in);
      bool more = true;
      if (!parsed) {
        parts_->session->RejectUnreadable("cannot parse the ClientEvent");
      } else {
        more = parts_->session->Handle(event);
      }
      // Otherwise the session resumes reading once its sends are answered.
      if (more) ReadNextWhenRoom(*parts_, [this] { StartRead(); });
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
    parts_->outbox->OnWriteDone(ok);
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
    if (parts_.End() && cancelled_ != 0) parts_->outbox->Finish(grpc::Status::CANCELLED);
    MaybeRelease();
  }

  void MaybeRelease() {
    {
      absl::MutexLock lock(&mu_);
      if (!started_ || !done_ || ops_ > 0 || released_) return;
      released_ = true;
    }
    if (parts_.filled()) EndConnectSession(hub_, *parts_, cancelled_ != 0);
    delete this;
  }

  grpc_server* const server_;
  void* const method_;
  Hub* const hub_;
  const Authenticator* const auth_;
  const ServiceOptions* const options_;
  const size_t lane_;
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
  // Empty if the call was refused.
  ConnectSlot parts_;

  absl::Mutex mu_;
  // The message being read (gRPC core fills it in when the read returns).
  grpc_byte_buffer* in_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The message of the write in flight (gRPC core takes its slices), and the
  // scratch space that makes it.
  grpc_byte_buffer* sending_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<grpc::Slice> dump_ ABSL_GUARDED_BY(mu_);
  std::vector<grpc_slice> c_slices_ ABSL_GUARDED_BY(mu_);
  grpc_slice status_details_ ABSL_GUARDED_BY(mu_) = grpc_empty_slice();
  // Reads, writes and finishes started and not yet back.
  int ops_ ABSL_GUARDED_BY(mu_) = 0;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  // Inside Begin's call to StartConnectSession.
  bool beginning_ ABSL_GUARDED_BY(mu_) = false;
  bool sent_initial_metadata_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

grpc::internal::RpcServiceMethod* NewConnectCoreMethod() {
  auto* method = new grpc::internal::RpcServiceMethod(kConnectPath, grpc::internal::RpcMethod::BIDI_STREAMING,
                                                      /*handler=*/nullptr);
  // A raw async method: the server registers it with gRPC core and keeps the
  // core's handle in server_tag(), which ConnectCall asks for calls with.
  method->SetServerApiType(grpc::internal::RpcServiceMethod::ApiType::RAW);
  return method;
}

void StartConnectCoreCalls(grpc::Server* server, grpc::internal::RpcServiceMethod* method, Hub* hub,
                           const Authenticator* auth, const ServiceOptions* options) {
  // A few calls waiting per lane, so a burst of new streams does not wait for
  // each accepted one to ask for the next.
  constexpr int kWaitingPerLane = 16;
  WriteKicker* lanes = hub->kicker();
  for (size_t lane = 0; lane < lanes->lanes(); ++lane) {
    for (int i = 0; i < kWaitingPerLane; ++i) {
      (new ConnectCall(server->c_server(), method->server_tag(), hub, auth, options, lane))->Request();
    }
  }
}

}  // namespace chat::core

#endif  // CHAT_CONNECT_ON_CORE_API
