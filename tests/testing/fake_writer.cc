#include "fake_writer.h"

namespace chat::testing {

FakeWriter::FakeWriter(Stream stream, bool auto_complete) : stream_(stream), auto_complete_(auto_complete) {
  if (auto_complete_) completer_ = std::thread([this] { CompleteLoop(); });
}

FakeWriter::~FakeWriter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (completer_.joinable()) completer_.join();
}

void FakeWriter::Attach(core::Outbox* outbox) {
  absl::MutexLock lock(&mu_);
  outbox_ = outbox;
  if (outbox == nullptr) {
    mu_.Await(absl::Condition(
        +[](FakeWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return !w->completing_; }, this));
  }
}

void FakeWriter::StartWriteBuffer(const grpc::ByteBuffer* buffer, grpc::WriteOptions options) {
  std::vector<grpc::Slice> slices;
  (void)buffer->Dump(&slices);
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  absl::MutexLock lock(&mu_);
  writes_.push_back(Write{std::move(bytes), options.get_buffer_hint()});
  if (auto_complete_) ++to_complete_;
}

void FakeWriter::FinishStream(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (!finish_) finish_ = status;
}

void FakeWriter::CompleteLoop() {
  for (;;) {
    core::Outbox* outbox;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](FakeWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return w->stop_ || (w->to_complete_ > 0 && w->outbox_ != nullptr);
          },
          this));
      if (stop_) return;
      --to_complete_;
      outbox = outbox_;
      completing_ = true;
    }
    outbox->OnWriteDone(true);
    absl::MutexLock lock(&mu_);
    completing_ = false;
  }
}

std::vector<FakeWriter::Write> FakeWriter::writes() const {
  absl::MutexLock lock(&mu_);
  return writes_;
}

size_t FakeWriter::write_count() const {
  absl::MutexLock lock(&mu_);
  return writes_.size();
}

std::optional<grpc::Status> FakeWriter::finish() const {
  absl::MutexLock lock(&mu_);
  return finish_;
}

bool FakeWriter::WaitForWrites(size_t n, std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&mu_);
  auto enough = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return writes_.size() >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::FromChrono(timeout));
}

bool FakeWriter::WaitForFinish(std::chrono::milliseconds timeout) const {
  absl::MutexLock lock(&mu_);
  auto finished = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return finish_.has_value(); };
  return mu_.AwaitWithTimeout(absl::Condition(&finished), absl::FromChrono(timeout));
}

std::vector<chat::v1::ServerEvent> FakeWriter::Events() const {
  std::vector<chat::v1::ServerEvent> out;
  if (stream_ == Stream::kGateway) {
    for (const auto& down : GatewayItems()) {
      if (down.has_event()) out.push_back(down.event());
    }
    return out;
  }
  for (const Write& w : writes()) {
    chat::v1::ServerEvent ev;
    if (!ev.ParseFromString(w.bytes)) continue;
    if (ev.has_batch()) {
      for (const auto& e : ev.batch().events()) out.push_back(e);
    } else {
      out.push_back(ev);
    }
  }
  return out;
}

std::vector<chat::v1::GatewayDown> FakeWriter::GatewayItems() const {
  std::vector<chat::v1::GatewayDown> out;
  for (const Write& w : writes()) {
    chat::v1::GatewayDown down;
    if (down.ParseFromString(w.bytes)) out.push_back(down);
  }
  return out;
}

std::optional<chat::v1::ServerEvent> FakeWriter::WaitForEvent(
    const std::function<bool(const chat::v1::ServerEvent&)>& pred, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t seen = 0;
  for (;;) {
    auto events = Events();
    for (; seen < events.size(); ++seen) {
      if (pred(events[seen])) return events[seen];
    }
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return std::nullopt;
    // Wait for the next write rather than poll.
    WaitForWrites(write_count() + 1, std::chrono::duration_cast<std::chrono::milliseconds>(left));
  }
}

}  // namespace chat::testing
