// The membership and moderation calls of ChatService (and a few of
// AuthService) as one user makes them, for the membership tests: each returns
// its grpc::Status, or a Result with the response. Every call has a 10 s
// deadline.
#ifndef CHAT_TESTS_TESTING_MEMBERSHIP_CALLS_H_
#define CHAT_TESTS_TESTING_MEMBERSHIP_CALLS_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "chat/v1/chat.grpc.pb.h"
#include "core_fixture.h"

namespace chat::testing {

template <typename T>
struct Result {
  grpc::Status st;
  T value;
  bool ok() const { return st.ok(); }
  const grpc::Status& status() const { return st; }
  const T* operator->() const { return &value; }
  const T& operator*() const { return value; }
};

class Calls {
 public:
  Calls(chat::v1::ChatService::Stub* chat, chat::v1::AuthService::Stub* auth, std::string token)
      : chat_(chat), auth_(auth), token_(std::move(token)) {}

  Result<chat::v1::Room> CreateRoom(const std::string& name, chat::v1::RoomKind kind) {
    chat::v1::CreateRoomRequest req;
    req.set_name(name);
    req.set_kind(kind);
    return Call(&chat::v1::ChatService::Stub::CreateRoom, req);
  }
  grpc::Status CreatePrivate(const std::string& name) {
    return CreateRoom(name, chat::v1::ROOM_KIND_PRIVATE).status();
  }
  Result<chat::v1::Room> GetRoom(const std::string& name) {
    chat::v1::GetRoomRequest req;
    req.set_name(name);
    return Call(&chat::v1::ChatService::Stub::GetRoom, req);
  }
  Result<chat::v1::Room> OpenDirect(const std::vector<std::string>& users) {
    chat::v1::OpenDirectRequest req;
    for (const auto& u : users) req.add_users(u);
    return Call(&chat::v1::ChatService::Stub::OpenDirect, req);
  }
  Result<chat::v1::Message> Send(const std::string& room, const std::string& text) {
    chat::v1::SendMessageRequest req;
    req.set_room(room);
    req.set_text(text);
    auto r = Call(&chat::v1::ChatService::Stub::SendMessage, req);
    return {r.st, r.value.message()};
  }
  Result<chat::v1::GetHistoryResponse> History(const std::string& room) {
    chat::v1::GetHistoryRequest req;
    req.set_room(room);
    return Call(&chat::v1::ChatService::Stub::GetHistory, req);
  }
  Result<chat::v1::ListRoomsResponse> ListRooms() {
    return Call(&chat::v1::ChatService::Stub::ListRooms, chat::v1::ListRoomsRequest());
  }
  grpc::Status UpdateTopic(const std::string& room, const std::string& topic) {
    chat::v1::UpdateRoomRequest req;
    req.set_room(room);
    req.set_topic(topic);
    return Call(&chat::v1::ChatService::Stub::UpdateRoom, req).st;
  }
  grpc::Status Archive(const std::string& room, bool archived) {
    chat::v1::UpdateRoomRequest req;
    req.set_room(room);
    req.set_archived(archived);
    return Call(&chat::v1::ChatService::Stub::UpdateRoom, req).st;
  }
  grpc::Status DeleteRoom(const std::string& room) {
    chat::v1::DeleteRoomRequest req;
    req.set_room(room);
    return Call(&chat::v1::ChatService::Stub::DeleteRoom, req).st;
  }
  grpc::Status Invite(const std::string& room, const std::string& user) {
    chat::v1::InviteRequest req;
    req.set_room(room);
    req.set_user(user);
    return Call(&chat::v1::ChatService::Stub::Invite, req).st;
  }
  grpc::Status Respond(const std::string& room, bool accept) {
    chat::v1::RespondInviteRequest req;
    req.set_room(room);
    req.set_accept(accept);
    return Call(&chat::v1::ChatService::Stub::RespondInvite, req).st;
  }
  Result<chat::v1::ListInvitesResponse> ListInvites() {
    return Call(&chat::v1::ChatService::Stub::ListInvites, chat::v1::ListInvitesRequest());
  }
  grpc::Status LeaveRoom(const std::string& room) {
    chat::v1::LeaveRoomRequest req;
    req.set_room(room);
    return Call(&chat::v1::ChatService::Stub::LeaveRoom, req).st;
  }
  grpc::Status Kick(const std::string& room, const std::string& user, const std::string& reason) {
    chat::v1::KickRequest req;
    req.set_room(room);
    req.set_user(user);
    req.set_reason(reason);
    return Call(&chat::v1::ChatService::Stub::Kick, req).st;
  }
  grpc::Status Ban(const std::string& room, const std::string& user, const std::string& reason) {
    chat::v1::BanRequest req;
    req.set_room(room);
    req.set_user(user);
    req.set_reason(reason);
    return Call(&chat::v1::ChatService::Stub::Ban, req).st;
  }
  grpc::Status Unban(const std::string& room, const std::string& user) {
    chat::v1::UnbanRequest req;
    req.set_room(room);
    req.set_user(user);
    return Call(&chat::v1::ChatService::Stub::Unban, req).st;
  }
  grpc::Status SetRole(const std::string& room, const std::string& user, chat::v1::Role role) {
    chat::v1::SetRoleRequest req;
    req.set_room(room);
    req.set_user(user);
    req.set_role(role);
    return Call(&chat::v1::ChatService::Stub::SetRole, req).st;
  }
  Result<chat::v1::ListMembersResponse> ListMembers(const std::string& room) {
    chat::v1::ListMembersRequest req;
    req.set_room(room);
    return Call(&chat::v1::ChatService::Stub::ListMembers, req);
  }
  grpc::Status DeleteMessage(const std::string& room, int64_t seq) {
    chat::v1::DeleteMessageRequest req;
    req.set_room(room);
    req.set_seq(seq);
    return Call(&chat::v1::ChatService::Stub::DeleteMessage, req).st;
  }
  Result<chat::v1::WhoAmIResponse> WhoAmI() {
    chat::v1::WhoAmIResponse resp;
    auto ctx = AuthedContext(token_);
    grpc::Status st = auth_->WhoAmI(ctx.get(), chat::v1::WhoAmIRequest(), &resp);
    return {st, resp};
  }
  grpc::Status Disable(const std::string& user, bool disabled) {
    chat::v1::DisableAccountRequest req;
    req.set_username(user);
    req.set_disabled(disabled);
    chat::v1::DisableAccountResponse resp;
    auto ctx = AuthedContext(token_);
    return auth_->DisableAccount(ctx.get(), req, &resp);
  }

  // Every unary call that names a room, by name.
  std::vector<std::pair<std::string, std::function<grpc::Status(const std::string&)>>> EveryRoomCall() {
    return {
        {"GetRoom", [this](const std::string& r) { return GetRoom(r).st; }},
        {"SendMessage", [this](const std::string& r) { return Send(r, "hi").st; }},
        {"GetHistory", [this](const std::string& r) { return History(r).st; }},
        {"UpdateRoom", [this](const std::string& r) { return UpdateTopic(r, "mine"); }},
        {"DeleteRoom", [this](const std::string& r) { return DeleteRoom(r); }},
        {"Invite", [this](const std::string& r) { return Invite(r, "eve"); }},
        {"RespondInvite", [this](const std::string& r) { return Respond(r, true); }},
        {"LeaveRoom", [this](const std::string& r) { return LeaveRoom(r); }},
        {"Kick", [this](const std::string& r) { return Kick(r, "mel", ""); }},
        {"Ban", [this](const std::string& r) { return Ban(r, "mel", ""); }},
        {"Unban", [this](const std::string& r) { return Unban(r, "mel"); }},
        {"SetRole", [this](const std::string& r) { return SetRole(r, "eve", chat::v1::ROLE_OWNER); }},
        {"ListMembers", [this](const std::string& r) { return ListMembers(r).st; }},
        {"DeleteMessage", [this](const std::string& r) { return DeleteMessage(r, 1); }},
    };
  }

 private:
  template <typename Req, typename Resp>
  Result<Resp> Call(grpc::Status (chat::v1::ChatService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req) {
    Result<Resp> out;
    auto ctx = AuthedContext(token_);
    out.st = (chat_->*method)(ctx.get(), req, &out.value);
    return out;
  }

  chat::v1::ChatService::Stub* chat_;
  chat::v1::AuthService::Stub* auth_;
  std::string token_;
};

// Every ClientEvent that names `room`, each with a ref of its kind's name.
inline std::vector<std::pair<std::string, chat::v1::ClientEvent>> EveryRoomEvent(const std::string& room) {
  std::vector<std::pair<std::string, chat::v1::ClientEvent>> out;
  auto add = [&](const std::string& name, auto fill) {
    chat::v1::ClientEvent e;
    e.set_ref(name + ":" + room);
    fill(e);
    out.emplace_back(name, std::move(e));
  };
  add("join", [&](auto& e) { e.mutable_join()->set_room(room); });
  add("join since 0", [&](auto& e) {
    e.mutable_join()->set_room(room);
    e.mutable_join()->set_since_seq(0);
  });
  add("leave", [&](auto& e) { e.mutable_leave()->set_room(room); });
  add("send", [&](auto& e) {
    e.mutable_send()->set_room(room);
    e.mutable_send()->set_text("hi");
  });
  add("typing", [&](auto& e) {
    e.mutable_typing()->set_room(room);
    e.mutable_typing()->set_active(true);
  });
  add("history", [&](auto& e) { e.mutable_history()->set_room(room); });
  add("getRoom", [&](auto& e) { e.mutable_get_room()->set_name(room); });
  add("updateRoom", [&](auto& e) {
    e.mutable_update_room()->set_room(room);
    e.mutable_update_room()->set_topic("mine");
  });
  add("deleteRoom", [&](auto& e) { e.mutable_delete_room()->set_room(room); });
  add("invite", [&](auto& e) {
    e.mutable_invite()->set_room(room);
    e.mutable_invite()->set_user("eve");
  });
  add("respondInvite", [&](auto& e) {
    e.mutable_respond_invite()->set_room(room);
    e.mutable_respond_invite()->set_accept(true);
  });
  add("leaveRoom", [&](auto& e) { e.mutable_leave_room()->set_room(room); });
  add("kick", [&](auto& e) {
    e.mutable_kick()->set_room(room);
    e.mutable_kick()->set_user("mel");
  });
  add("ban", [&](auto& e) {
    e.mutable_ban()->set_room(room);
    e.mutable_ban()->set_user("mel");
  });
  add("unban", [&](auto& e) {
    e.mutable_unban()->set_room(room);
    e.mutable_unban()->set_user("mel");
  });
  add("setRole", [&](auto& e) {
    e.mutable_set_role()->set_room(room);
    e.mutable_set_role()->set_user("eve");
    e.mutable_set_role()->set_role(chat::v1::ROLE_OWNER);
  });
  add("listMembers", [&](auto& e) { e.mutable_list_members()->set_room(room); });
  add("deleteMessage", [&](auto& e) {
    e.mutable_delete_message()->set_room(room);
    e.mutable_delete_message()->set_seq(1);
  });
  return out;
}

inline grpc::Status LoginStatus(chat::v1::AuthService::Stub* auth, const std::string& user,
                                const std::string& password = "correct horse") {
  chat::v1::LoginRequest req;
  req.set_username(user);
  req.set_password(password);
  chat::v1::LoginResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return auth->Login(&ctx, req, &resp);
}

}  // namespace chat::testing

#endif  // CHAT_TESTS_TESTING_MEMBERSHIP_CALLS_H_
