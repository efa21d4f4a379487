#include "live_client.h"

#include <sys/random.h>

#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "chat/status.h"

namespace chat::cli {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

namespace {

// Whether a stream that ended with `status` should be reconnected.
bool Retryable(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:  // ended by chat-core without a reason: reconnect
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::CANCELLED:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string RandomClientMsgId() {
  unsigned char bytes[16];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

LiveClient::LiveClient(ChatClient* client, LiveObserver* observer, LiveClientOptions options)
    : client_(client), observer_(observer), options_(options) {}

LiveClient::~LiveClient() {
  Stop();
  if (thread_.joinable()) thread_.join();
}

void LiveClient::Start() { thread_ = std::thread([this] { Run(); }); }

void LiveClient::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (stream_ != nullptr) stream_->Cancel();
}

void LiveClient::WriteJoin(const std::string& room, std::optional<int64_t> since_seq) {
  if (stream_ == nullptr) return;
  ClientEvent event;
  event.mutable_join()->set_room(room);
  if (since_seq) event.mutable_join()->set_since_seq(*since_seq);
  stream_->Write(std::move(event));
}

void LiveClient::WriteSend(const PendingSend& send) {
  if (stream_ == nullptr) return;
  ClientEvent event;
  auto* s = event.mutable_send();
  s->set_room(send.room);
  s->set_text(send.text);
  s->set_client_msg_id(send.client_msg_id);
  stream_->Write(std::move(event));
}

void LiveClient::Join(const std::string& room, std::optional<int64_t> since_seq) {
  absl::MutexLock lock(&mu_);
  if (rooms_.count(room) > 0) return;
  rooms_[room].last_seq = since_seq;
  WriteJoin(room, since_seq);
}

void LiveClient::Leave(const std::string& room) {
  absl::MutexLock lock(&mu_);
  if (rooms_.erase(room) == 0) return;
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = it->room == room ? pending_.erase(it) : it + 1;
  }
  if (stream_ != nullptr) {
    ClientEvent event;
    event.mutable_leave()->set_room(room);
    stream_->Write(std::move(event));
  }
}

std::string LiveClient::Send(const std::string& room, const std::string& text) {
  PendingSend send{RandomClientMsgId(), room, text};
  absl::MutexLock lock(&mu_);
  WriteSend(send);
  pending_.push_back(send);
  return send.client_msg_id;
}

bool LiveClient::WaitForSends(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto cond = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pending_.empty() || closed_ || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  return pending_.empty();
}

void LiveClient::WaitUntilClosed() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&closed_));
}

bool LiveClient::InRoom(const std::string& room) const {
  absl::MutexLock lock(&mu_);
  return rooms_.count(room) > 0;
}

std::vector<std::string> LiveClient::Rooms() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [name, state] : rooms_) out.push_back(name);
  return out;
}

std::vector<std::string> LiveClient::Members(const std::string& room) const {
  absl::MutexLock lock(&mu_);
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return {};
  return std::vector<std::string>(it->second.members.begin(), it->second.members.end());
}

bool LiveClient::connected() const {
  absl::MutexLock lock(&mu_);
  return stream_ != nullptr && stream_connected_;
}

void LiveClient::StreamEvent(ConnectStream* stream, ServerEvent event) {
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  events_.push_back(std::move(event));
}

void LiveClient::StreamDone(ConnectStream* stream, const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  stream_status_ = status;
}

bool LiveClient::HasWork() const { return !events_.empty() || stream_status_.has_value(); }

void LiveClient::Run() {
  const size_t nodes = client_->node_count();
  size_t node = client_->preferred();
  absl::Duration backoff = options_.initial_backoff;
  bool ever_connected = false;
  int failed_first_rounds = 0;
  size_t failed_in_round = 0;  // attempts since the last round ended or a stream worked
  std::mt19937 jitter(std::random_device{}());
  for (;;) {
    bool connected = false;
    // With one node, wait for it to come back; with several, fail fast and go on.
    grpc::Status status = RunStream(node, nodes == 1 && ever_connected, &connected);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
    }
    if (connected) {
      ever_connected = true;
      backoff = options_.initial_backoff;
      failed_in_round = 1;  // the node that just dropped us counts as tried
    } else {
      ++failed_in_round;
    }
    const bool round_over = failed_in_round >= nodes;
    if (!ever_connected && round_over) ++failed_first_rounds;
    if (!Retryable(status) ||
        (!ever_connected && failed_first_rounds >= options_.first_connect_attempts)) {
      observer_->OnClosed(CallError(status, client_->address(node), true, client_->options().unauthenticated_hint));
      break;
    }
    const std::string& left = client_->address(node);
    node = (node + 1) % nodes;
    if (ever_connected) {
      bool report = false;
      {
        absl::MutexLock lock(&mu_);
        if (!reported_down_) report = reported_down_ = true;
      }
      if (report) observer_->OnDisconnected(CallError(status, left), client_->address(node));
    }
    if (round_over) {
      failed_in_round = 0;
      // Backoff with jitter (0.8x-1.2x); Stop() cuts it short.
      if (!Pause(backoff * std::uniform_real_distribution<double>(0.8, 1.2)(jitter))) break;
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    if (ever_connected) observer_->OnReconnecting(client_->address(node));
  }
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool LiveClient::Pause(absl::Duration pause) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), pause);
  return !stopping_;
}

grpc::Status LiveClient::RunStream(size_t node, bool wait_for_ready, bool* connected) {
  // A node that takes too long to connect is left for the next one. A refused
  // connection settles at once; the stream then fails fast with the reason.
  if (client_->node_count() > 1 &&
      !AwaitConnectAttempt(client_->channel(node), client_->options().connect_timeout, [this] {
        absl::MutexLock lock(&mu_);
        return stopping_;
      })) {
    return NotConnectedStatus(client_->options().connect_timeout);
  }
  ConnectStream::Owner* owner = this;
  auto stream = std::make_unique<ConnectStream>(owner, client_->token(), wait_for_ready);
  {
    absl::MutexLock lock(&mu_);
    // Stop() could not cancel a stream that was not there yet.
    if (stopping_) return grpc::Status::CANCELLED;
    stream_ = stream.get();
    stream_node_ = node;
    stream_connected_ = false;
    stream_status_.reset();
    events_.clear();
    stream->Start(client_->chat_stub(node));
    // Resume: rejoin after the last seq seen, then resend what is unacknowledged
    // (chat-core handles a stream's events in order, so each send finds its room).
    for (auto& [name, state] : rooms_) {
      state.live = false;
      WriteJoin(name, state.last_seq);
    }
    for (const auto& send : pending_) WriteSend(send);
  }

  grpc::Status status;
  for (;;) {
    ServerEvent event;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &LiveClient::HasWork));
      if (events_.empty()) {
        status = *stream_status_;
        break;
      }
      event = std::move(events_.front());
      events_.pop_front();
    }
    if (event.has_batch()) {
      for (const auto& inner : event.batch().events()) Process(inner);
    } else {
      Process(event);
    }
    stream->ReadNext();
  }
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
    *connected = stream_connected_;
  }
  stream.reset();  // after OnDone: safe to delete
  return status;
}

void LiveClient::Process(const ServerEvent& event) {
  bool deliver = true;
  bool first = false;
  bool reconnected = false;
  size_t node = 0;
  std::string notice;
  {
    absl::MutexLock lock(&mu_);
    if (!stream_connected_) {
      stream_connected_ = true;
      first = true;
      node = stream_node_;
      reconnected = reported_down_;
      reported_down_ = false;
    }
    switch (event.event_case()) {
      case ServerEvent::kJoined: {
        auto it = rooms_.find(event.joined().room());
        if (it == rooms_.end()) {
          deliver = false;
          break;
        }
        RoomState& room = it->second;
        room.live = true;
        room.last_seq = std::max(room.last_seq.value_or(0), event.joined().latest_seq());
        room.members = std::set<std::string>(event.joined().members().begin(),
                                             event.joined().members().end());
        break;
      }
      case ServerEvent::kMessage: {
        auto it = rooms_.find(event.message().room());
        if (it == rooms_.end()) {
          deliver = false;
          break;
        }
        RoomState& room = it->second;
        if (room.last_seq && event.message().seq() <= *room.last_seq) {
          deliver = false;  // already seen (never expected: since_seq resumes exactly)
        } else {
          room.last_seq = event.message().seq();
        }
        break;
      }
      case ServerEvent::kMember: {
        auto it = rooms_.find(event.member().room());
        if (it == rooms_.end()) {
          deliver = false;
          break;
        }
        if (event.member().kind() == chat::v1::MemberEvent::JOINED) {
          it->second.members.insert(event.member().user());
        } else if (event.member().kind() == chat::v1::MemberEvent::LEFT) {
          it->second.members.erase(event.member().user());
        }
        break;
      }
      case ServerEvent::kTyping:
        deliver = rooms_.count(event.typing().room()) > 0;
        break;
      case ServerEvent::kMessageDeleted:
        deliver = rooms_.count(event.message_deleted().room()) > 0;
        break;
      case ServerEvent::kLeft:
        // chat-core ended the session in the room (kicked, banned, the room
        // deleted, left elsewhere): it is not rejoined after a reconnect.
        if (!event.left().reason().empty()) rooms_.erase(event.left().room());
        break;
      case ServerEvent::kAck:
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
          if (it->client_msg_id == event.ack().client_msg_id()) {
            pending_.erase(it);
            break;
          }
        }
        break;
      case ServerEvent::kError: {
        const auto& error = event.error();
        if (error.event() == "send" && !error.client_msg_id().empty()) {
          for (auto it = pending_.begin(); it != pending_.end(); ++it) {
            if (it->client_msg_id == error.client_msg_id()) {
              pending_.erase(it);
              break;
            }
          }
        } else if (error.event() == "join" && !error.room().empty()) {
          auto it = rooms_.find(error.room());
          if (it == rooms_.end() || it->second.live) break;
          if (error.code() == chat::v1::Error::FAILED_PRECONDITION) break;  // already in it
          if (error.code() == chat::v1::Error::OUT_OF_RANGE && it->second.last_seq) {
            // The room's newest seq is behind what we saw: chat-core lost messages
            // (a database restored from a backup?). Follow it from its newest.
            notice = absl::StrCat("room '", error.room(),
                                  "' is behind the last message seen here (", *it->second.last_seq,
                                  "); following it from its newest message");
            it->second.last_seq.reset();
            WriteJoin(error.room(), std::nullopt);
            deliver = false;
            break;
          }
          rooms_.erase(it);
        }
        break;
      }
      default:
        break;
    }
  }
  // Unary calls (e.g. /rooms) go first to the node that works.
  if (first) client_->set_preferred(node);
  if (reconnected) observer_->OnReconnected(client_->address(node));
  if (!notice.empty()) observer_->OnNotice(notice);
  if (deliver) observer_->OnEvent(event);
}

}  // namespace chat::cli
