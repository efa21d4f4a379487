// FakeWriter: an OutboxWriter with no gRPC underneath, for unit tests of
// Outbox, Room and Session. It records every write (its bytes and options) and
// every finish; a test completes writes itself (Complete) or lets the writer
// complete each one on its own thread (auto-complete mode), as gRPC would.
//
// Threading: thread-safe. StartWriteBuffer and FinishStream are called under
// the outbox lock, so they only record (and, auto-completing, hand the write to
// the writer's thread). Lifetime: must outlive the Outbox it serves, or the
// outbox must be detached first; the destructor joins its thread.
#ifndef CHAT_TESTS_TESTING_FAKE_WRITER_H_
#define CHAT_TESTS_TESTING_FAKE_WRITER_H_

#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "frames.h"
#include "outbox.h"

namespace chat::testing {

class FakeWriter : public core::OutboxWriter {
 public:
  struct Write {
    std::string bytes;
    bool buffer_hint = false;
  };

  // What the writes are: a Connect stream's ServerEvents or a gateway
  // stream's GatewayDown items.
  enum class Stream { kConnect, kGateway };

  // auto_complete: each write is completed (OnWriteDone(true)) by the writer's
  // thread, one at a time, in order; the outbox is set with Attach.
  explicit FakeWriter(Stream stream = Stream::kConnect, bool auto_complete = false);
  ~FakeWriter() override;

  // The outbox whose writes auto-complete. Attach(nullptr) stops completing
  // and waits until a completion in progress has returned, so the outbox may
  // be destroyed after it (AddressSanitizer caught one completed into a
  // destroyed outbox).
  void Attach(core::Outbox* outbox);

  void StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) override;
  void FinishStream(const grpc::Status& status) override;

  std::vector<Write> writes() const;
  size_t write_count() const;
  std::optional<grpc::Status> finish() const;

  // Waits until at least `n` writes were started (or the deadline passes).
  bool WaitForWrites(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  bool WaitForFinish(std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Every ServerEvent written so far, in order: a Connect stream's events (a
  // batch unpacked), or the events of a gateway stream's GatewayDown items.
  std::vector<chat::v1::ServerEvent> Events() const;
  // Every GatewayDown written so far (gateway streams).
  std::vector<chat::v1::GatewayDown> GatewayItems() const;
  // Waits until Events() has an event that matches.
  std::optional<chat::v1::ServerEvent> WaitForEvent(
      const std::function<bool(const chat::v1::ServerEvent&)>& pred,
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  void CompleteLoop();

  const Stream stream_;
  const bool auto_complete_;
  mutable absl::Mutex mu_;
  core::Outbox* outbox_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::vector<Write> writes_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
  size_t to_complete_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // The completer is inside outbox_->OnWriteDone (Attach(nullptr) waits it out).
  bool completing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread completer_;
};

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_FAKE_WRITER_H_
