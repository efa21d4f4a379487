// Hub: the heart of chat-core. Owns the room registry and connects sessions, rooms
// and the store: sends go to the store and, once durable, are published to the
// room and acknowledged; joins replay what a session missed and then go live;
// history and room management read and write through the store. In a cluster
// (docs/scaling.md) it also publishes what other nodes commit, fills the gaps
// a lost notification leaves from the store, and keeps presence and typing in
// step with the other nodes through its Cluster.
//
// Threading: thread-safe; never blocks (store work is queued and completes on
// store threads). One thread of its own fills gaps and ends expired sessions.
// Lifetime: built by CoreServer, outlives every session and stream; Shutdown()
// ends every live stream, after which new streams are refused; Stop() (or the
// destructor) joins its thread.
#ifndef CHAT_CORE_SRC_HUB_H_
#define CHAT_CORE_SRC_HUB_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chat/v1/chat.pb.h"
#include "absl/time/time.h"
#include "cluster.h"
#include "identity.h"
#include "live_sessions.h"
#include "outbox.h"
#include "room.h"
#include "room_access.h"
#include "store.h"
#include "write_kicker.h"

namespace chat::core {

class Session;
class CoreMetrics;
class Membership;

struct HubOptions {
  RoomOptions room;
  // Room creation limits (chat-core --max_rooms and
  // --max_room_creates_per_user_per_hour): checked by the store, so they hold on
  // every node of a cluster; rooms chat-core makes itself (lobby) are exempt.
  RoomQuota room_quota;
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
  // The other nodes (null: a single node). Not owned; must outlive the Hub's
  // use of it (until Stop()).
  Cluster* cluster = nullptr;
  // How long messages after a gap wait for the missing ones to arrive by
  // notification before they are read from the store.
  absl::Duration gap_grace = absl::Milliseconds(50);
  // Live sessions one user may have on this node (Connect streams and browser
  // sessions together); 0: no cap.
  int max_streams_per_user = 0;
  // How often expired sessions are looked for (they end within this).
  absl::Duration expiry_check = absl::Milliseconds(250);
  // Prometheus metrics (core_metrics.h); null: off. Not owned; outlives the Hub.
  CoreMetrics* metrics = nullptr;
  // Server admins (chat-core --admins), by user key (UserKey): they moderate
  // every room.
  absl::flat_hash_set<std::string> admins;
  // User searches per user per 10 s (SearchUsers).
  int searches_per_10s = 20;
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
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Loads the rooms; creates `lobby` if missing; starts the Hub's thread.
  // Start-up only (blocks).
  absl::Status Init();
  // Joins the Hub's thread (after the gRPC server stopped). Idempotent.
  void Stop();

  WriteKicker* kicker() { return kicker_.get(); }
  LiveSessions& live() { return live_; }
  Cluster* cluster() const { return options_.cluster; }
  // Stops the fan-out threads (after the gRPC server has stopped).
  void StopFanout() { kicker_->Stop(); }
  const HubOptions& options() const { return options_; }
  int64_t NowMs() const { return options_.now_ms(); }

  std::shared_ptr<Room> FindRoom(absl::string_view name) const;
  std::shared_ptr<Room> FindRoomById(int64_t id) const;
  // Every room this node knows.
  std::vector<std::shared_ptr<Room>> Rooms() const;
  // INVALID_ARGUMENT for a bad name, NOT_FOUND for an unknown room.
  absl::StatusOr<std::shared_ptr<Room>> LookupRoom(absl::string_view name) const;
  // As LookupRoom, and NOT_FOUND (the same answer) for a room `who` may not see.
  absl::StatusOr<std::shared_ptr<Room>> LookupRoomFor(const Identity& who, absl::string_view name) const;
  // Who `who` is to the rules of RoomAccess (a server admin or not).
  Actor ActorOf(const Identity& who) const;
  bool IsAdmin(const std::string& user) const;

  // RESOURCE_EXHAUSTED past options().room_quota (the message says which limit).
  void CreateRoom(const std::string& name, const std::string& creator,
                  std::function<void(absl::StatusOr<chat::v1::Room>)> done);
  // A room of spec.kind with spec.topic, made by spec.created_by with these
  // member rows; the answer describes it for the creator.
  void CreateRoomAs(const RoomRecord& spec, std::vector<MemberRecord> members,
                    std::function<void(absl::StatusOr<chat::v1::Room>)> done);
  // One page of the rooms `who` may see, by name (ListRoomsRequest's limit and
  // cursor): public rooms and the private and direct rooms they are a member
  // of. INVALID_ARGUMENT for a bad limit or cursor.
  absl::StatusOr<chat::v1::ListRoomsResponse> ListRooms(const chat::v1::ListRoomsRequest& request,
                                                        const Identity& who) const;
  // Gives `event` to every live session that may see `room`: every session for
  // a public room, its members' sessions for a private or direct one.
  void Announce(const Room& room, const chat::v1::ServerEvent& event);
  // Forgets a deleted room (its name is free again).
  void RemoveRoom(int64_t id);
  Store* store() const { return store_; }
  Membership& membership() { return *membership_; }

  // Stores the message (or finds the original of a retried client_msg_id), then
  // publishes it to the room, then calls done, on the store's thread.
  void Send(const Identity& author, const std::shared_ptr<Room>& room, std::string text,
            std::string client_msg_id,
            std::function<void(absl::StatusOr<chat::v1::Message>, bool duplicate)> done);

  // Validates and serves a history page of a room `who` may see.
  void History(const chat::v1::GetHistoryRequest& request, const Identity& who,
               std::function<void(absl::StatusOr<chat::v1::GetHistoryResponse>)> done);
  // The messages of `room` with after < seq <= up_to, oldest first, at most
  // `limit`, as frames to replay to a session that joins far behind.
  void ReplayPage(const Room& room, int64_t after, int64_t up_to, int limit,
                  std::function<void(absl::StatusOr<std::vector<RoomFramePtr>>)> done);

  // A session of this node joined or left a room (TryGoLive, RemoveMember
  // said how its user's presence changed): the cluster hears of the user's
  // first or last session here, and the room of their arrival or departure.
  void MemberArrived(Room& room, const std::string& user, RoomPresence::Change change);
  void MemberDeparted(Room& room, const std::string& user, RoomPresence::Change change);
  // A member event to this node's subscribers of the room (unless the room is
  // past its presence limit).
  void BroadcastMember(Room& room, const std::string& user, chat::v1::MemberEvent::Kind kind);
  // Typing to this node's subscribers; `local`: from a session here (the
  // cluster hears of it too).
  void BroadcastTyping(Room& room, const std::string& user, bool active, bool local = true);

  // A room this node had not seen (created on another node, or a notification
  // it missed): registered, and announced to those who may see it. `members`:
  // its member rows, when known (this node created it); otherwise a private
  // or direct room's rows are read from the store before it is announced.
  std::shared_ptr<Room> AdoptRoom(const RoomRecord& record, const std::vector<MemberRecord>* members = nullptr);
  // Stored messages (another node's commits): published in seq order; a gap
  // is filled from the store. Messages up to `fetch_up_to` that did not come
  // with them are read from the store at once.
  void PublishStored(const std::shared_ptr<Room>& room, const std::vector<StoredMessage>& messages,
                     int64_t fetch_up_to = 0);
  // The room's newest stored seq is `stored_seq`: if that is newer than what
  // was published here and still is after a short grace (the notification may
  // be on its way), the rest is read from the store. Nothing happens for a
  // seq already published (an empty room's 0, say).
  void NoteNewerThan(const std::shared_ptr<Room>& room, int64_t stored_seq);

  uint64_t NextMemberId() { return next_member_id_.fetch_add(1) + 1; }
  // Ends every live stream with UNAVAILABLE and refuses new ones.
  void Shutdown() { live_.Shutdown(); }
  bool shutting_down() const { return live_.shutting_down(); }

  HubStats stats() const;
  // What an outbox of this kind counts into (its queued room frames, and
  // with metrics on what it writes and why it ends).
  OutboxCounters* outbox_counters(Outbox::Kind kind) { return &outbox_counters_[static_cast<int>(kind)]; }

 private:
  // Registers a room (under rooms_mu_); false if its id is known already.
  bool AddRoomLocked(const std::shared_ptr<Room>& room) ABSL_EXCLUSIVE_LOCKS_REQUIRED(rooms_mu_);
  // RESOURCE_EXHAUSTED if `quota` refuses a room by `creator` as far as this
  // node knows (rooms it has heard of); the store checks again when it writes.
  absl::Status CheckQuotaLocked(const std::string& creator, const RoomQuota& quota)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rooms_mu_);
  // A message waits behind a hole in the room's seqs: unless the hole fills
  // within the grace, it is read from the store.
  void NoteGap(const std::shared_ptr<Room>& room);
  // Reads the room's messages after its last published seq from the store and
  // publishes them, page by page.
  void CatchUp(const std::shared_ptr<Room>& room);
  void CatchUpDone(int64_t room_id);
  // The Hub's thread: gaps whose grace is over, expired sessions.
  void Tick();

  Store* const store_;
  HubOptions options_;
  std::unique_ptr<WriteKicker> kicker_;
  LiveSessions live_;
  std::unique_ptr<Membership> membership_;

  mutable absl::Mutex rooms_mu_;
  // By name, in order, so a page of ListRooms is a short walk.
  absl::btree_map<std::string, std::shared_ptr<Room>> rooms_ ABSL_GUARDED_BY(rooms_mu_);
  absl::flat_hash_map<int64_t, std::shared_ptr<Room>> rooms_by_id_ ABSL_GUARDED_BY(rooms_mu_);
  // When each user created the rooms this node knows of (from any node) within
  // the quota's window, oldest first: a user past the rate is refused here,
  // without a write (the store's count stays the authority).
  absl::flat_hash_map<std::string, std::vector<int64_t>> recent_creates_ ABSL_GUARDED_BY(rooms_mu_);

  absl::Mutex gaps_mu_;
  // Rooms with something newer to publish, since when.
  absl::flat_hash_map<int64_t, absl::Time> gaps_ ABSL_GUARDED_BY(gaps_mu_);
  // Rooms being read from the store now.
  absl::flat_hash_set<int64_t> catching_up_ ABSL_GUARDED_BY(gaps_mu_);
  bool stopping_ ABSL_GUARDED_BY(gaps_mu_) = false;
  std::thread ticker_;

  std::atomic<uint64_t> next_member_id_{0};
  std::atomic<uint64_t> messages_stored_{0};
  std::atomic<uint64_t> duplicate_sends_{0};
  // By Outbox::Kind.
  std::array<OutboxCounters, 2> outbox_counters_;
};

}  // namespace chat::core

#endif  // CHAT_CORE_SRC_HUB_H_
