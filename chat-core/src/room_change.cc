#include "room_change.h"

#include <random>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace chat::core {

uint64_t NewRoomChangeId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

std::string EncodeRoomChange(const RoomChange& change) {
  std::string out = absl::StrCat(absl::Hex(change.id, absl::kZeroPad16), ":", change.room_id, ":",
                                 absl::Base64Escape(change.event.SerializeAsString()));
  return out;
}

absl::StatusOr<RoomChange> DecodeRoomChange(absl::string_view note) {
  std::vector<absl::string_view> parts = absl::StrSplit(note, ':');
  RoomChange change;
  std::string bytes;
  bool ok = parts.size() == 3 && absl::SimpleHexAtoi(parts[0], &change.id) &&
            absl::SimpleAtoi(parts[1], &change.room_id) && absl::Base64Unescape(parts[2], &bytes) &&
            change.event.ParseFromString(bytes);
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("not a room change note: ", note.substr(0, 64)));
  return change;
}

}  // namespace chat::core
