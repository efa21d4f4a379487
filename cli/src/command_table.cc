#include "command_table.h"

namespace chat::cli {

void AddMembershipCommands(std::vector<CommandSpec>* commands) {
  std::vector<CommandSpec>& c = *commands;
  const OptionSpec reason{"reason", 'r', "TEXT", "why, shown to the user (at most 256 bytes)"};

  // Rooms.
  c.push_back({"topic", "ROOM [TEXT...]", "Rooms", "show or set a room's topic",
               "Without TEXT, prints ROOM's topic. With TEXT (the arguments joined by\n"
               "spaces), sets it: moderators and the owner may; at most 256 bytes.\n"
               "An empty TEXT ('') clears it.",
               {},
               1,
               -1,
               {"chat topic general", "chat topic general 'Release 4.2 on Friday'", "chat topic general ''"}});
  c.push_back({"archive", "ROOM", "Rooms", "make a room read-only (owner)",
               "Archives ROOM: its history stays, new messages are refused. Only the\n"
               "room's owner (or a server admin) may. 'chat unarchive' undoes it.",
               {},
               1,
               1,
               {"chat archive release-4.1"}});
  c.push_back({"unarchive", "ROOM", "Rooms", "accept messages in an archived room again (owner)",
               "Undoes 'chat archive': ROOM accepts messages again.",
               {},
               1,
               1,
               {"chat unarchive release-4.1"}});
  c.push_back({"delete-room", "ROOM", "Rooms", "delete a room and its history for good (owner)",
               "Deletes ROOM with every message in it, for everyone, for good. Only the\n"
               "room's owner (or a server admin) may; direct rooms cannot be deleted.\n"
               "On a terminal it asks first; without a terminal (a script) it refuses\n"
               "unless --yes is given.",
               {{"yes", 'y', "", "do not ask for confirmation"}},
               1,
               1,
               {"chat delete-room old-project", "chat delete-room old-project --yes"}});

  // Messages.
  c.push_back({"dm", "USER [USER...]", "Messages", "open a direct conversation; print its room",
               "Opens the direct room of you and the USERs (1 to 8 others) and prints\n"
               "its name (dm. and 24 hex digits), so that\n"
               "  chat send $(chat dm bob) 'hi bob'\n"
               "works. The same set of users always gets the same room; the first call\n"
               "creates it with everyone a member. Use the name with send, history,\n"
               "tail and 'chat ROOM' like any room. With --message, also posts TEXT\n"
               "there (and prints what 'chat send' prints).",
               {{"message", 'm', "TEXT", "also send TEXT to the conversation"}},
               1,
               -1,
               {"chat dm bob", "chat dm bob carol -m 'lunch?'", "chat $(chat dm bob)",
                "chat history $(chat dm bob)"}});
  c.push_back({"delete", "ROOM SEQ", "Messages", "delete a message",
               "Deletes message SEQ of ROOM (see the #SEQ in 'chat history'). Anyone\n"
               "may delete their own messages; moderators and the owner anyone's. The\n"
               "message stays as a tombstone, shown as '(deleted)'.",
               {},
               2,
               2,
               {"chat delete general 42"}});

  // Members.
  c.push_back({"members", "ROOM", "Members", "list a room's members, their roles and who is online",
               "Lists ROOM's members with their role (owner, moderator, member) and\n"
               "whether they are online. A public room lists its owner and moderators\n"
               "and whoever is in it now; a private or direct room every member.\n"
               "Moderators also see the invited and the banned users.",
               {},
               1,
               1,
               {"chat members general", "chat members general --json | jq -r '.members[].user'"}});
  c.push_back({"invite", "ROOM USER", "Members", "invite a user to a room (moderators)",
               "Invites USER to ROOM (a private or public room; moderators and the\n"
               "owner may). USER sees the invitation with 'chat invites' (and live, in\n"
               "a running 'chat' session) and answers with 'chat accept ROOM' or\n"
               "'chat decline ROOM'.",
               {},
               2,
               2,
               {"chat invite secret-project bob"}});
  c.push_back({"invites", "", "Members", "list your pending invitations",
               "Lists the rooms you are invited to, who invited you and when.",
               {},
               0,
               0,
               {"chat invites", "chat invites --json | jq -r .room.name"}});
  c.push_back({"accept", "ROOM", "Members", "accept an invitation (become a member)",
               "Accepts the invitation to ROOM: you become a member and may join it\n"
               "('chat ROOM').",
               {},
               1,
               1,
               {"chat accept secret-project"}});
  c.push_back({"decline", "ROOM", "Members", "decline an invitation",
               "Declines the invitation to ROOM.",
               {},
               1,
               1,
               {"chat decline secret-project"}});
  c.push_back({"leave", "ROOM", "Members", "stop being a member of a room",
               "Gives up your membership of ROOM (a private room needs a new invitation\n"
               "to come back). The owner hands over ownership first ('chat role ROOM\n"
               "USER owner') unless they are the last member. Not to be confused with\n"
               "/leave in the interactive mode, which only stops following the room.",
               {},
               1,
               1,
               {"chat leave secret-project"}});

  // Moderation.
  c.push_back({"kick", "ROOM USER", "Moderation", "remove a member (moderators)",
               "Removes USER from ROOM; their sessions in it are ended with the reason.\n"
               "They may be invited again (in a public room they may come back at\n"
               "once). Moderators may kick members, the owner moderators too.",
               {reason},
               2,
               2,
               {"chat kick general mallory --reason spam"}});
  c.push_back({"ban", "ROOM USER", "Moderation", "remove a member and keep them out (moderators)",
               "Removes USER from ROOM and keeps them out until 'chat unban'.",
               {reason},
               2,
               2,
               {"chat ban general mallory -r 'spam, again'"}});
  c.push_back({"unban", "ROOM USER", "Moderation", "lift a ban (moderators)",
               "Lifts USER's ban from ROOM: they may be invited (or join a public room)\n"
               "again.",
               {},
               2,
               2,
               {"chat unban general mallory"}});
  c.push_back({"role", "ROOM USER ROLE", "Moderation", "set a member's role (owner)",
               "Sets USER's role in ROOM to member, moderator or owner. Only the owner\n"
               "(or a server admin) may. Making someone the owner hands ownership over:\n"
               "you become a moderator.",
               {},
               3,
               3,
               {"chat role general bob moderator", "chat role general bob owner"}});

  // Users.
  c.push_back({"users", "PREFIX", "Users", "find users by the start of their name",
               "Prints the registered usernames that start with PREFIX (any case),\n"
               "one a line, sorted.",
               {{"limit", 'n', "N", "at most N users, 1-20 (default 10)"}},
               1,
               1,
               {"chat users al", "chat dm $(chat users bo -n 1)"}});
  c.push_back({"disable", "USER", "Users", "disable an account (server admins)",
               "Disables USER's account: their live sessions end at once on every node\n"
               "and they cannot log in until 'chat enable'. Server admins only\n"
               "(chat-core --admins).",
               {},
               1,
               1,
               {"chat disable mallory"}});
  c.push_back({"enable", "USER", "Users", "enable a disabled account (server admins)",
               "Lets a disabled USER log in again. Server admins only.",
               {},
               1,
               1,
               {"chat enable mallory"}});
}

}  // namespace chat::cli
