// The cluster's notification payloads: what chat_append (pg_schema.cc) and the
// cluster write, read back; and what a damaged payload gets.
#include "pg_notify_codec.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace chat::core {
namespace {

using ::testing::ElementsAre;

TEST(PgNotifyCodecTest, ReadsMessagesAsPostgresWritesThem) {
  // json_build_array's spacing, escapes of every kind, and a message too big
  // for a notification ([seq] alone).
  auto note = ParseMessagesNote(
      R"({"r":7,"m":[[3, "ann", "hi \"there\"\n\\ \u00e9 \ud83d\ude00 é", 1700000000000, "c-1"],[4],)"
      R"([5, "bob", "", 2, ""]]})");
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(note->room_id, 7);
  ASSERT_EQ(note->messages.size(), 2u);
  EXPECT_EQ(note->messages[0].seq, 3);
  EXPECT_EQ(note->messages[0].author, "ann");
  EXPECT_EQ(note->messages[0].text, "hi \"there\"\n\\ \xc3\xa9 \xf0\x9f\x98\x80 \xc3\xa9");
  EXPECT_EQ(note->messages[0].sent_at_ms, 1700000000000);
  EXPECT_EQ(note->messages[0].client_msg_id, "c-1");
  EXPECT_EQ(note->messages[0].room_id, 7);
  EXPECT_EQ(note->messages[1].seq, 5);
  EXPECT_EQ(note->fetch_up_to, 4);
}

TEST(PgNotifyCodecTest, ABotsMessageCarriesItsKind) {
  // As chat_append of schema 5 writes them: a bot's message with its kind
  // as a sixth element, a user's with five.
  auto note = ParseMessagesNote(R"({"r":2,"m":[[1, "ci-bot", "ok", 10, "b-1", 2],[2, "ann", "hi", 11, ""]]})");
  ASSERT_TRUE(note.ok()) << note.status();
  ASSERT_EQ(note->messages.size(), 2u);
  EXPECT_EQ(note->messages[0].author, "ci-bot");
  EXPECT_EQ(note->messages[0].client_msg_id, "b-1");
  EXPECT_EQ(note->messages[0].author_kind, AccountKind::kBot);
  EXPECT_EQ(note->messages[1].author_kind, AccountKind::kUser);
  EXPECT_EQ(ParseMessagesNote(R"({"r":2,"m":[[1, "ann", "hi", 10, "", 1]]})")->messages[0].author_kind,
            AccountKind::kUser);
  // A kind that is not one, or not a number: the note is damaged.
  for (const char* bad : {R"({"r":2,"m":[[1, "x", "hi", 10, "", 7]]})", R"({"r":2,"m":[[1, "x", "hi", 10, "", 0]]})",
                          R"({"r":2,"m":[[1, "x", "hi", 10, "", "bot"]]})",
                          R"({"r":2,"m":[[1, "x", "hi", 10, "", 2, 3]]})"}) {
    EXPECT_EQ(ParseMessagesNote(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(PgNotifyCodecTest, ABusyRoomsBatchIsARangeToRead) {
  auto note = ParseMessagesNote(R"({"r":3,"to":512})");
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_EQ(note->room_id, 3);
  EXPECT_TRUE(note->messages.empty());
  EXPECT_EQ(note->fetch_up_to, 512);
}

TEST(PgNotifyCodecTest, RoomsAndPresenceRoundTrip) {
  auto room = ParseRoomNote(R"([12, "general", 1700000000000, "ann"])");
  ASSERT_TRUE(room.ok()) << room.status();
  EXPECT_EQ(room->id, 12);
  EXPECT_EQ(room->name, "general");
  EXPECT_EQ(room->created_by, "ann");
  EXPECT_EQ(room->kind, RoomKind::kPublic);  // a node of schema version 3
  EXPECT_EQ(room->topic, "");
  // As PgCreateRoomOp's json_build_array writes it: a private room with its
  // topic, so other nodes adopt it as private.
  auto secret = ParseRoomNote(R"([13, "secret", 1700000000001, "bob", 2, "plans \"for\" \u00e9"])");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(secret->id, 13);
  EXPECT_EQ(secret->name, "secret");
  EXPECT_EQ(secret->created_at_ms, 1700000000001);
  EXPECT_EQ(secret->created_by, "bob");
  EXPECT_EQ(secret->kind, RoomKind::kPrivate);
  EXPECT_EQ(secret->topic, "plans \"for\" \xc3\xa9");
  EXPECT_FALSE(secret->archived);
  EXPECT_EQ(ParseRoomNote(R"([14, "dm.ab", 1, "", 3, ""])")->kind, RoomKind::kDirect);
  auto p = ParsePresenceNote(PresenceNotePayload(PresenceRecord{"node-\"a\"", 3, "~guest"}, true));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->who.node, "node-\"a\"");
  EXPECT_EQ(p->who.room_id, 3);
  EXPECT_EQ(p->who.user, "~guest");
  EXPECT_TRUE(p->present);
  EXPECT_FALSE(p->node_gone);
  auto gone = ParsePresenceNote(NodeGonePayload("node-b"));
  ASSERT_TRUE(gone.ok());
  EXPECT_TRUE(gone->node_gone);
  EXPECT_EQ(gone->who.node, "node-b");
}

TEST(PgNotifyCodecTest, DamagedPayloadsAreRefusedNotGuessed) {
  for (const char* bad : {"", "{", R"({"r":1})", R"({"r":"x","m":[]})", R"({"r":1,"m":[[1,"a"]]})",
                          R"({"r":1,"m":[["1","a","t",2,"c"]]})", R"({"r":1,"m":[[1,"a","\ud800",2,"c"]]})",
                          R"({"r":1,"m":[[1,"a","\q",2,"c"]]})", R"({"r":1,"m":[]} trailing)",
                          "[[[[[[[[[[[1]]]]]]]]]]]"}) {
    EXPECT_FALSE(ParseMessagesNote(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseRoomNote(R"([1, "x", 2])").ok());
  EXPECT_FALSE(ParseRoomNote(R"([1, "x", 2, "a", 2])").ok());
  EXPECT_FALSE(ParseRoomNote(R"([1, "x", 2, "a", "2", ""])").ok());
  EXPECT_FALSE(ParseRoomNote(R"([1, "x", 2, "a", 9, ""])").ok());
  EXPECT_FALSE(ParseRoomNote(R"([1, "x", 2, "a", 2, 5])").ok());
  EXPECT_FALSE(ParsePresenceNote(R"([1])").ok());
  EXPECT_FALSE(ParsePresenceNote(R"(["n", 1, "u"])").ok());
}

}  // namespace
}  // namespace chat::core
