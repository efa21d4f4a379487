#include "connect_stream.h"

#include "absl/strings/str_cat.h"

namespace chat::cli {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

ConnectStream::ConnectStream(Owner* owner, const std::string& token, bool wait_for_ready)
    : owner_(owner) {
  context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  // What queues up while this client is busy (a burst in a busy room) comes in
  // batches, fewer messages to read; the owner opens them.
  context_.AddMetadata("x-chat-batch", "256");
  context_.set_wait_for_ready(wait_for_ready);
}

void ConnectStream::Start(chat::v1::ChatService::Stub* stub) {
  stub->async()->Connect(&context_, this);
  AddHold();
  StartRead(&incoming_);
  StartCall();
}

void ConnectStream::Write(ClientEvent event) {
  const ClientEvent* next = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (read_closed_ || write_failed_) return;
    outgoing_.push_back(std::move(event));
    if (!writing_) {
      writing_ = true;
      next = &outgoing_.front();
    }
  }
  if (next != nullptr) StartWrite(next);
}

void ConnectStream::OnReadDone(bool ok) {
  if (ok) {
    // Take the event out first: once posted, the owner may start the next read
    // into incoming_ at any moment, so incoming_ must not be touched after.
    ServerEvent event;
    event.Swap(&incoming_);
    owner_->StreamEvent(this, std::move(event));
    return;
  }
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    read_closed_ = true;
    release = !writing_;
  }
  if (release) RemoveHold();
}

void ConnectStream::OnWriteDone(bool ok) {
  const ClientEvent* next = nullptr;
  bool release = false;
  {
    absl::MutexLock lock(&mu_);
    outgoing_.pop_front();
    if (!ok) {
      write_failed_ = true;
      outgoing_.clear();
    }
    if (ok && !read_closed_ && !outgoing_.empty()) {
      next = &outgoing_.front();
    } else {
      writing_ = false;
      release = read_closed_;
    }
  }
  if (next != nullptr) StartWrite(next);
  if (release) RemoveHold();
}

void ConnectStream::OnDone(const grpc::Status& status) {
  // Last use of `this`: the owner deletes the stream after this.
  owner_->StreamDone(this, status);
}

}  // namespace chat::cli
