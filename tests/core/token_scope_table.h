// The API token scope table of docs/protocol.md ("API token scopes") for the
// scope tests: four tokens (only read, only post, only manage, only room a)
// and every live-session event with the action and room it needs. What each
// token is told for each is spelled out by Expected, from the docs' messages.
#ifndef CHAT_TESTS_CORE_TOKEN_SCOPE_TABLE_H_
#define CHAT_TESTS_CORE_TOKEN_SCOPE_TABLE_H_

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "chat/v1/chat.pb.h"
#include "identity.h"
#include "store.h"

namespace chat::testing {

inline core::Identity TokenIdentity(const std::string& user, const std::string& name, int actions,
                                    std::vector<std::string> rooms) {
  core::Identity id;
  id.user = user;
  id.token_hash = "hash-of-" + name;
  id.api_token = true;
  id.token_name = name;
  id.token_actions = actions;
  id.token_rooms = std::move(rooms);
  return id;
}

struct TokenCase {
  std::string name;
  int actions = 0;  // 0: all
  std::vector<std::string> rooms;  // empty: all
  core::Identity identity;
};

inline TokenCase MakeToken(const std::string& user, const std::string& name, int actions,
                           std::vector<std::string> rooms) {
  return TokenCase{name, actions, rooms, TokenIdentity(user, name, actions, rooms)};
}
inline TokenCase ReadToken() { return MakeToken("rita", "reader", core::kTokenRead, {}); }
inline TokenCase PostToken() { return MakeToken("pete", "poster", core::kTokenPost, {}); }
inline TokenCase ManageToken() { return MakeToken("moe", "manager", core::kTokenManage, {}); }
inline TokenCase RoomAToken() { return MakeToken("ann", "ci", 0, {"a"}); }

// One request: its kind (the ClientEvent field's JSON name, or the unary
// method), the action it needs, the room it names ("" none), and whether it
// reaches beyond named rooms (OpenDirect).
struct ScopedCall {
  std::string kind;
  int action = 0;
  std::string room;
  bool all_rooms = false;
  std::function<chat::v1::ClientEvent()> event;
};

// The answer the docs give `token` for `call`: "" when allowed.
inline std::string Expected(const TokenCase& token, const ScopedCall& call) {
  if (token.actions != 0 && (token.actions & call.action) == 0) {
    const char* scope = call.action == core::kTokenRead ? "read" : call.action == core::kTokenPost ? "post" : "manage";
    return "API token '" + token.name + "' lacks the '" + scope + "' scope";
  }
  if (!token.rooms.empty()) {
    const bool outside = call.all_rooms || (!call.room.empty() && std::find(token.rooms.begin(), token.rooms.end(),
                                                                             call.room) == token.rooms.end());
    if (outside) {
      std::string rooms;
      for (const auto& r : token.rooms) rooms += (rooms.empty() ? "" : ", ") + r;
      return "API token '" + token.name + "' is limited to rooms: " + rooms;
    }
  }
  return "";
}

// Every ClientEvent kind, in an order where each has an answer: typing and
// send come before the join of their room.
inline std::vector<ScopedCall> ScopedEvents() {
  using chat::v1::ClientEvent;
  const int r = core::kTokenRead, p = core::kTokenPost, m = core::kTokenManage;
  std::vector<ScopedCall> calls;
  auto add = [&](std::string kind, int action, std::string room, std::function<void(ClientEvent*)> fill,
                 bool all_rooms = false) {
    calls.push_back(ScopedCall{kind, action, room, all_rooms, [fill] {
                                 ClientEvent e;
                                 fill(&e);
                                 return e;
                               }});
  };
  add("ping", r, "", [](ClientEvent* e) { e->mutable_ping()->set_nonce(7); });
  add("listRooms", r, "", [](ClientEvent* e) { e->mutable_list_rooms(); });
  add("listInvites", r, "", [](ClientEvent* e) { e->mutable_list_invites(); });
  add("searchUsers", r, "", [](ClientEvent* e) { e->mutable_search_users()->set_prefix("b"); });
  add("getUsers", r, "", [](ClientEvent* e) { e->mutable_get_users()->add_usernames("olga"); });
  for (std::string room : {"a", "b"}) {
    add("getRoom", r, room, [room](ClientEvent* e) { e->mutable_get_room()->set_name(room); });
    add("listMembers", r, room, [room](ClientEvent* e) { e->mutable_list_members()->set_room(room); });
    add("history", r, room, [room](ClientEvent* e) { e->mutable_history()->set_room(room); });
    add("typing", p, room, [room](ClientEvent* e) {
      e->mutable_typing()->set_room(room);
      e->mutable_typing()->set_active(true);
    });
    add("send", p, room, [room](ClientEvent* e) {
      e->mutable_send()->set_room(room);
      e->mutable_send()->set_text("not yet");
      e->mutable_send()->set_client_msg_id("early-" + room);
    });
    add("deleteMessage", p, room, [room](ClientEvent* e) {
      e->mutable_delete_message()->set_room(room);
      e->mutable_delete_message()->set_seq(1);
    });
    add("join", r, room, [room](ClientEvent* e) { e->mutable_join()->set_room(room); });
    add("leave", r, room, [room](ClientEvent* e) { e->mutable_leave()->set_room(room); });
    add("updateRoom", m, room, [room](ClientEvent* e) {
      e->mutable_update_room()->set_room(room);
      e->mutable_update_room()->set_topic("new topic");
    });
    add("invite", m, room, [room](ClientEvent* e) {
      e->mutable_invite()->set_room(room);
      e->mutable_invite()->set_user("olga");
    });
    add("respondInvite", m, room, [room](ClientEvent* e) {
      e->mutable_respond_invite()->set_room(room);
      e->mutable_respond_invite()->set_accept(true);
    });
    add("leaveRoom", m, room, [room](ClientEvent* e) { e->mutable_leave_room()->set_room(room); });
    add("kick", m, room, [room](ClientEvent* e) {
      e->mutable_kick()->set_room(room);
      e->mutable_kick()->set_user("olga");
    });
    add("ban", m, room, [room](ClientEvent* e) {
      e->mutable_ban()->set_room(room);
      e->mutable_ban()->set_user("olga");
    });
    add("unban", m, room, [room](ClientEvent* e) {
      e->mutable_unban()->set_room(room);
      e->mutable_unban()->set_user("olga");
    });
    add("setRole", m, room, [room](ClientEvent* e) {
      e->mutable_set_role()->set_room(room);
      e->mutable_set_role()->set_user("olga");
      e->mutable_set_role()->set_role(chat::v1::ROLE_MODERATOR);
    });
    add("deleteRoom", m, room, [room](ClientEvent* e) { e->mutable_delete_room()->set_room(room); });
  }
  add("createRoom", m, "c", [](ClientEvent* e) { e->mutable_create_room()->set_name("c"); });
  add("openDirect", m, "", [](ClientEvent* e) { e->mutable_open_direct()->add_users("olga"); }, true);
  return calls;
}

}  // namespace chat::testing

#endif  // CHAT_TESTS_CORE_TOKEN_SCOPE_TABLE_H_
