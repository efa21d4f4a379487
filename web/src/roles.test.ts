import { describe, expect, it } from "vitest";
import { Role, RoomKind } from "./gen/chat/v1/chat_pb";
import { canDeleteMessage, canRemove, effectiveRole, isDirect, isPublic, permissions, roleChoices } from "./roles";
import { makeRoom } from "./testing/events";

const room = (kind: RoomKind, myRole: Role) => makeRoom({ name: "r", kind, myRole });

describe("permissions", () => {
  it("gives members nothing to moderate, moderators the room, owners the rest", () => {
    const member = permissions("r", room(RoomKind.PRIVATE, Role.MEMBER), false);
    expect(member).toEqual({
      moderate: false,
      invite: false,
      editTopic: false,
      own: false,
      archive: false,
      deleteRoom: false,
      setRoles: false,
      leave: true,
    });
    const mod = permissions("r", room(RoomKind.PRIVATE, Role.MODERATOR), false);
    expect(mod).toMatchObject({ moderate: true, invite: true, editTopic: true, archive: false, deleteRoom: false, setRoles: false });
    const owner = permissions("r", room(RoomKind.PUBLIC, Role.OWNER), false);
    expect(owner).toMatchObject({ moderate: true, archive: true, deleteRoom: true, setRoles: true, leave: true });
  });

  it("nobody moderates a direct room (its people set its topic), and a user with no stored role has nothing to leave", () => {
    const dm = permissions("dm.1", room(RoomKind.DIRECT, Role.MEMBER), true);
    expect(dm).toMatchObject({ moderate: false, invite: false, deleteRoom: false, setRoles: false, leave: true });
    expect(permissions("dm.1", room(RoomKind.DIRECT, Role.MEMBER), false).editTopic).toBe(true);
    expect(permissions("lobby", room(RoomKind.PUBLIC, Role.UNSPECIFIED), false).leave).toBe(false);
  });

  it("a server admin acts as owner everywhere", () => {
    expect(effectiveRole(room(RoomKind.PUBLIC, Role.UNSPECIFIED), true)).toBe(Role.OWNER);
    expect(permissions("x", null, true)).toMatchObject({ moderate: true, deleteRoom: true, leave: false });
  });

  it("kicks and bans only lower roles, never oneself; an admin anyone else", () => {
    const p = permissions("r", room(RoomKind.PRIVATE, Role.MODERATOR), false);
    expect(canRemove(p, Role.MODERATOR, false, { user: "bob", role: Role.MEMBER }, "alice")).toBe(true);
    expect(canRemove(p, Role.MODERATOR, false, { user: "bob", role: Role.MODERATOR }, "alice")).toBe(false);
    expect(canRemove(p, Role.MODERATOR, false, { user: "Alice", role: Role.MEMBER }, "alice")).toBe(false);
    const admin = permissions("r", room(RoomKind.PRIVATE, Role.UNSPECIFIED), true);
    expect(canRemove(admin, Role.UNSPECIFIED, true, { user: "bob", role: Role.OWNER }, "alice")).toBe(true);
  });

  it("offers the owner other roles for members, and moderator or owner for a visitor of a public room", () => {
    const p = permissions("r", room(RoomKind.PUBLIC, Role.OWNER), false);
    expect(roleChoices(p, { user: "bob", role: Role.MEMBER }, "alice", true)).toEqual([Role.OWNER, Role.MODERATOR]);
    expect(roleChoices(p, { user: "bob", role: Role.MODERATOR }, "alice", true)).toEqual([Role.OWNER, Role.MEMBER]);
    expect(roleChoices(p, { user: "bob", role: Role.UNSPECIFIED }, "alice", true)).toEqual([Role.OWNER, Role.MODERATOR]);
    expect(roleChoices(p, { user: "bob", role: Role.UNSPECIFIED }, "alice", false)).toEqual([]);
    expect(roleChoices(p, { user: "alice", role: Role.OWNER }, "alice", true)).toEqual([]);
    const mod = permissions("r", room(RoomKind.PUBLIC, Role.MODERATOR), false);
    expect(roleChoices(mod, { user: "bob", role: Role.MEMBER }, "alice", true)).toEqual([]);
  });

  it("deletes own messages anywhere, others' as a moderator", () => {
    expect(canDeleteMessage(room(RoomKind.PUBLIC, Role.UNSPECIFIED), false, "ALICE", "alice")).toBe(true);
    expect(canDeleteMessage(room(RoomKind.PUBLIC, Role.MEMBER), false, "bob", "alice")).toBe(false);
    expect(canDeleteMessage(room(RoomKind.PUBLIC, Role.MODERATOR), false, "bob", "alice")).toBe(true);
    expect(canDeleteMessage(room(RoomKind.DIRECT, Role.MEMBER), true, "bob", "alice")).toBe(true);
  });

  it("tells room kinds apart, a dm. name before its description comes", () => {
    expect(isDirect("dm.abc", null)).toBe(true);
    expect(isDirect("ops", room(RoomKind.DIRECT, Role.MEMBER))).toBe(true);
    expect(isPublic("lobby", null)).toBe(true);
    expect(isPublic("ops", room(RoomKind.PRIVATE, Role.MEMBER))).toBe(false);
    expect(isPublic("old", room(RoomKind.UNSPECIFIED, Role.MEMBER))).toBe(true);
  });
});
