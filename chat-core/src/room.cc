#include "room.h"

#include <algorithm>

#include "chat/log.h"
#include "google/protobuf/util/time_util.h"

namespace chat::core {

Room::Room(const RoomRecord& record, RoomOptions options)
    : id_(record.id),
      name_(record.name),
      created_at_ms_(record.created_at_ms),
      created_by_(record.created_by),
      options_(options),
      access_(record),
      last_seq_(record.last_seq),
      recent_(options.recent_frames, options.recent_bytes),
      subscribers_(std::make_shared<const SubscriberList>()) {}

int64_t Room::last_seq() const {
  absl::MutexLock lock(&mu_);
  return last_seq_;
}

int Room::member_count() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(presence_.count());
}

int Room::local_sessions() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(members_.size());
}

bool Room::presence_enabled() const {
  absl::MutexLock lock(&mu_);
  return presence_.count() <= options_.presence_limit;
}

void Room::TombstoneRecent(int64_t seq) {
  absl::MutexLock lock(&mu_);
  if (recent_.empty() || seq < recent_.front()->seq) return;
  const size_t i = static_cast<size_t>(seq - recent_.front()->seq);
  if (i >= recent_.size()) return;
  const grpc::Slice& bytes = recent_[i]->event_bytes;
  chat::v1::ServerEvent ev;
  if (!ev.ParseFromArray(bytes.begin(), static_cast<int>(bytes.size())) || !ev.has_message()) return;
  ev.mutable_message()->clear_text();
  ev.mutable_message()->set_deleted(true);
  recent_.Replace(MakeRoomFrame(id_, seq, ev));
}

std::vector<std::string> Room::Present(size_t limit) const {
  absl::MutexLock lock(&mu_);
  return presence_.List(limit);
}

void Room::Describe(chat::v1::Room* out, const std::string& viewer) const {
  access_.Describe(viewer, out);
  out->set_name(name_);
  *out->mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(created_at_ms_);
  out->set_created_by(created_by_);
  absl::MutexLock lock(&mu_);
  out->set_last_seq(last_seq_);
  out->set_member_count(static_cast<int>(presence_.count()));
}

void Room::AdvanceLocked(const RoomFramePtr& frame) {
  last_seq_ = frame->seq;
  recent_.Push(frame);
}

Room::Published Room::Publish(const RoomFramePtr& frame, std::function<void()> after) {
  std::vector<Held> ready;
  std::shared_ptr<const SubscriberList> snapshot;
  absl::MutexLock publishing(&publish_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (frame->seq <= last_seq_) {
      snapshot = nullptr;  // delivered before
    } else if (frame->seq > last_seq_ + 1) {
      auto it = held_.find(frame->seq);
      if (it == held_.end()) {
        if (held_.size() >= options_.max_held) return Published::kWaiting;
        it = held_.emplace(frame->seq, Held{frame, {}}).first;
      }
      if (after) it->second.after.push_back(std::move(after));
      return Published::kWaiting;
    } else {
      ready.push_back(Held{frame, {}});
      if (after) ready.back().after.push_back(std::move(after));
      AdvanceLocked(frame);
      // What waited for this one.
      while (!held_.empty() && held_.begin()->first <= last_seq_ + 1) {
        auto node = held_.extract(held_.begin());
        if (node.key() == last_seq_ + 1) {
          AdvanceLocked(node.mapped().frame);
          ready.push_back(std::move(node.mapped()));
        } else {
          for (auto& fn : node.mapped().after) ready.front().after.push_back(std::move(fn));
        }
      }
      snapshot = subscribers_;
    }
  }
  if (snapshot == nullptr) {
    if (after) after();
    return Published::kDuplicate;
  }
  for (const Held& h : ready) {
    for (const auto& sub : *snapshot) sub->OnRoomFrame(h.frame);
  }
  for (Held& h : ready) {
    for (auto& fn : h.after) fn();
  }
  return Published::kDelivered;
}

int64_t Room::waiting_for() const {
  absl::MutexLock lock(&mu_);
  return held_.empty() ? 0 : last_seq_ + 1;
}

void Room::Broadcast(const RoomFramePtr& frame) {
  std::shared_ptr<const SubscriberList> snapshot;
  {
    absl::MutexLock lock(&mu_);
    snapshot = subscribers_;
  }
  for (const auto& sub : *snapshot) sub->OnRoomFrame(frame);
}

Room::GoLive Room::TryGoLive(const JoinTicket& t, int64_t* latest, RoomPresence::Change* change) {
  absl::MutexLock lock(&mu_);
  *latest = last_seq_;
  *change = {};
  int64_t pos = t.pos < 0 ? last_seq_ : t.pos;
  if (pos > last_seq_) return GoLive::kAhead;
  if (pos < last_seq_) {
    // Replay from the ring if it holds every message after pos and the session's
    // queue has room for them; otherwise the caller pages from the store.
    int64_t missing = last_seq_ - pos;
    bool in_ring = !recent_.empty() && recent_.front()->seq <= pos + 1;
    if (!in_ring || missing > static_cast<int64_t>(recent_.size()) || missing > t.max_burst) {
      return GoLive::kNeedPage;
    }
  }
  if (!t.commit_if_wanted()) return GoLive::kAbandoned;
  if (pos < last_seq_) {
    size_t first = static_cast<size_t>(pos + 1 - recent_.front()->seq);
    for (size_t i = first; i < recent_.size(); ++i) t.subscriber->PushReplay(t.session, recent_[i]);
  }
  // Present and subscribed from here: the next delivered frame is last_seq_ + 1.
  members_[t.member_id] = t.user;
  *change = presence_.AddLocal(t.user);
  SubscribeLocked(t.subscriber);
  t.subscriber->AddRoom(id_, last_seq_);

  chat::v1::ServerEvent ev;
  ev.set_ref(t.reply.ref);
  auto* joined = ev.mutable_joined();
  joined->set_room(name_);
  joined->set_latest_seq(last_seq_);
  joined->set_member_count(static_cast<int>(presence_.count()));
  for (std::string& user : presence_.List(options_.presence_limit)) joined->add_members(std::move(user));
  t.subscriber->PushEvent(t.session, ev, t.reply.request);
  return GoLive::kLive;
}

RoomPresence::Change Room::RemoveMember(uint64_t member_id, const std::shared_ptr<RoomSubscriber>& subscriber) {
  absl::MutexLock lock(&mu_);
  auto it = members_.find(member_id);
  if (it == members_.end()) return {};
  RoomPresence::Change change = presence_.RemoveLocal(it->second);
  members_.erase(it);
  subscriber->RemoveRoom(id_);
  UnsubscribeLocked(subscriber.get());
  return change;
}

bool Room::AddRemoteMember(const std::string& node, const std::string& user) {
  absl::MutexLock lock(&mu_);
  return presence_.AddRemote(node, user);
}

bool Room::RemoveRemoteMember(const std::string& node, const std::string& user) {
  absl::MutexLock lock(&mu_);
  return presence_.RemoveRemote(node, user);
}

std::vector<std::string> Room::RemoveNode(const std::string& node) {
  absl::MutexLock lock(&mu_);
  return presence_.RemoveNode(node);
}

void Room::ReplaceRemoteMembers(const absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>& present,
                                std::vector<std::string>* arrived, std::vector<std::string>* left) {
  absl::MutexLock lock(&mu_);
  presence_.ReplaceRemote(present, arrived, left);
}

void Room::SubscribeLocked(const std::shared_ptr<RoomSubscriber>& subscriber) {
  if (subscriber_refs_[subscriber.get()]++ > 0) return;
  auto next = std::make_shared<SubscriberList>(*subscribers_);
  next->push_back(subscriber);
  subscribers_ = std::move(next);
}

void Room::UnsubscribeLocked(RoomSubscriber* subscriber) {
  auto it = subscriber_refs_.find(subscriber);
  if (it == subscriber_refs_.end() || --it->second > 0) return;
  subscriber_refs_.erase(it);
  auto next = std::make_shared<SubscriberList>();
  next->reserve(subscribers_->size());
  for (const auto& s : *subscribers_) {
    if (s.get() != subscriber) next->push_back(s);
  }
  subscribers_ = std::move(next);
}

}  // namespace chat::core
