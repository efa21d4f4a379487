// Hub: the heart of chat-core. Owns the room registry and connects sessions, rooms
// and the store: sends go to the store and, once durable, are published to the
// room and acknowledged; joins replay what a session missed and then go live;
// history and room management read and write through the store.
//
// Threading: thread-safe; never blocks (store work is queued and completes on
// store threads). Lifetime: built by CoreServer, outlives every session and
// stream; Shutdown() ends every live stream, after which new streams are refused.
#ifndef CHAT_CORE_SRC_HUB_H_
#define CHAT_CORE_SRC_HUB_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "identity.h"
#include "outbox.h"
#include "room.h"
#include "store.h"
#include "write_kicker.h"

namespace chat::core {

class Session;

struct HubOptions {
  RoomOptions room;
  size_t max_text_bytes = 4096;
  // Messages per store read when replaying a join far behind.
  int replay_page = 256;
  // Threads that start the writes of room fan-out (0: one per core).
  int fanout_threads = 0;
  // If set, one fan-out lane per queue instead, each polling its queue (the
  // server's Connect streams are bound to them; see WriteKicker).
  std::vector<grpc::ServerCompletionQueue*> fanout_queues;
  // The clock, in ms since the epoch (tests may replace it).
  std::function<int64_t()> now_ms;
};

// The number of fan-out lanes `options` asks for (fanout_threads, or one per core).
int FanoutLanes(const HubOptions& options);

struct HubStats {
  uint64_t messages_stored = 0;
  uint64_t duplicate_sends = 0;
  // Room frames queued to gateway streams (one per gateway per room event).
  uint64_t gateway_room_frames = 0;
  // Room frames queued to Connect streams.
  uint64_t connect_room_frames = 0;
  int64_t live_sessions = 0;
  int64_t live_streams = 0;
};

class Hub {
 public:
  Hub(Store* store, HubOptions options);
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Loads the rooms; creates `lobby` if missing. Start-up only (blocks).
  absl::Status Init();

  WriteKicker* kicker() { return kicker_.get(); }
  // Stops the fan-out threads (after the gRPC server has stopped).
  void StopFanout() { kicker_->Stop(); }
  const HubOptions& options() const { return options_; }
  int64_t NowMs() const { return options_.now_ms(); }

  std::shared_ptr<Room> FindRoom(absl::string_view name) const;
  // INVALID_ARGUMENT for a bad name, NOT_FOUND for an unknown room.
  absl::StatusOr<std::shared_ptr<Room>> LookupRoom(absl::string_view name) const;

  void CreateRoom(const std::string& name, const std::string& creator,
                  std::function<void(absl::StatusOr<chat::v1::Room>)> done);
  chat::v1::ListRoomsResponse ListRooms() const;

  // Stores the message (or finds the original of a retried client_msg_id), then
  // publishes it to the room, then calls done, on the store's thread.
  void Send(const Identity& author, const std::shared_ptr<Room>& room, std::string text,
            std::string client_msg_id,
            std::function<void(absl::StatusOr<chat::v1::Message>, bool duplicate)> done);

  // Validates and serves a history page.
  void History(const chat::v1::GetHistoryRequest& request,
               std::function<void(absl::StatusOr<chat::v1::GetHistoryResponse>)> done);
  // The messages of `room` with after < seq <= up_to, oldest first, at most
  // `limit`, as frames to replay to a session that joins far behind.
  void ReplayPage(const Room& room, int64_t after, int64_t up_to, int limit,
                  std::function<void(absl::StatusOr<std::vector<RoomFramePtr>>)> done);

  void BroadcastMember(Room& room, const std::string& user, chat::v1::MemberEvent::Kind kind);
  void BroadcastTyping(Room& room, const std::string& user, bool active);

  // Live sessions and streams, for logout, expiry and shutdown.
  uint64_t NextMemberId() { return next_member_id_.fetch_add(1) + 1; }
  // False after Shutdown().
  bool AddStream(const std::shared_ptr<Outbox>& outbox);
  void RemoveStream(Outbox* outbox);
  void AddSession(const std::shared_ptr<Session>& session);
  void RemoveSession(Session* session);
  // Ends every live session that uses this token (logout).
  void KillSessionsWithToken(const std::string& token_hash, const std::string& reason);
  // Ends every live stream with UNAVAILABLE and refuses new ones.
  void Shutdown();
  bool shutting_down() const { return shutting_down_.load(); }

  HubStats stats() const;
  // The counter an outbox of this kind reports its queued room frames to.
  std::atomic<uint64_t>* room_frame_counter(Outbox::Kind kind) {
    return kind == Outbox::Kind::kGateway ? &gateway_room_frames_ : &connect_room_frames_;
  }

 private:
  Store* const store_;
  HubOptions options_;
  std::unique_ptr<WriteKicker> kicker_;

  mutable absl::Mutex rooms_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Room>> rooms_ ABSL_GUARDED_BY(rooms_mu_);

  mutable absl::Mutex live_mu_;
  absl::flat_hash_map<Outbox*, std::weak_ptr<Outbox>> streams_ ABSL_GUARDED_BY(live_mu_);
  absl::flat_hash_map<Session*, std::weak_ptr<Session>> sessions_ ABSL_GUARDED_BY(live_mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<Session*>> sessions_by_token_
      ABSL_GUARDED_BY(live_mu_);

  std::atomic<uint64_t> next_member_id_{0};
  std::atomic<bool> shutting_down_{false};
  std::atomic<uint64_t> messages_stored_{0};
  std::atomic<uint64_t> duplicate_sends_{0};
  std::atomic<uint64_t> gateway_room_frames_{0};
  std::atomic<uint64_t> connect_room_frames_{0};
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_HUB_H_
