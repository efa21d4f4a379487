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
  EXPECT_FALSE(ParsePresenceNote(R"([1])").ok());
  EXPECT_FALSE(ParsePresenceNote(R"(["n", 1, "u"])").ok());
}

}  // namespace
}  // namespace chat::core
