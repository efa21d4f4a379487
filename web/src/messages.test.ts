import { describe, expect, it } from "vitest";
import { NOTHING_SEEN, announcement, mergeBySeq, typingText } from "./messages";
import type { ChatMessage, ChatState } from "./model";
import { reducer } from "./state";
import { ME, ev, msg, open, server } from "./testing/chat-state";

describe("mergeBySeq", () => {
  const cm = (seq: number): ChatMessage => ({
    key: `s:${seq}`,
    room: "r",
    seq,
    author: "a",
    text: String(seq),
    sentAt: "",
    clientMsgId: "",
    status: "sent",
    error: "",
    local: false,
    acked: false,
    deleted: false,
    bot: false,
  });

  it("appends, inserts in order and reports duplicates", () => {
    let list: ChatMessage[] = [];
    for (const n of [3, 1, 5, 2, 4, 5, 1]) list = mergeBySeq(list, cm(n)).list;
    expect(list.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(mergeBySeq(list, cm(3)).added).toBe(false);
    expect(mergeBySeq(list, cm(6)).added).toBe(true);
    expect(mergeBySeq(list, cm(0.5 as number)).list[0].seq).toBe(0.5);
  });

  it("replaces the entry with the same seq but keeps a local key", () => {
    const local = { ...cm(2), key: "c:x", local: true, acked: true };
    const { list } = mergeBySeq([cm(1), local, cm(3)], { ...cm(2), text: "server" });
    expect(list[1]).toMatchObject({ key: "c:x", local: true, acked: true, text: "server", status: "sent" });
  });
});

describe("typing text", () => {
  it("describes who is typing", () => {
    expect(typingText([])).toBe("");
    expect(typingText(["bob"])).toBe("bob is typing…");
    expect(typingText(["bob", "carol"])).toBe("bob and carol are typing…");
    expect(typingText(["a", "b", "c"])).toBe("a, b and c are typing…");
    expect(typingText(["a", "b", "c", "d"])).toBe("Several people are typing…");
  });
});

describe("live announcer", () => {
  // The newest page of an empty lobby, then live messages.
  function loadedEmpty(): ChatState {
    let s = open();
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h1", mode: "newest" });
    return server(s, ev.joined("lobby", 0), ev.history("lobby", [], false, "h1"));
  }

  it("announces the first message of an empty room", () => {
    let s = loadedEmpty();
    let a = announcement(NOTHING_SEEN, s.rooms.lobby, ME);
    expect(a.text).toBe("");
    s = server(s, ev.message(msg(1, { text: "first!" })));
    a = announcement(a.seen, s.rooms.lobby, ME);
    expect(a.text).toBe("bob: first!");
  });

  it("does not announce the history page, a room switch, or our own messages", () => {
    let s = open();
    s = reducer(s, { type: "historySent", room: "lobby", ref: "h1", mode: "newest" });
    let a = announcement(NOTHING_SEEN, s.rooms.lobby, ME);
    s = server(s, ev.joined("lobby", 3), ev.history("lobby", [msg(1), msg(2), msg(3)], false, "h1"));
    a = announcement(a.seen, s.rooms.lobby, ME);
    expect(a.text).toBe(""); // history, not news
    s = server(s, ev.message(msg(4, { author: "Alice" })));
    a = announcement(a.seen, s.rooms.lobby, ME);
    expect(a.text).toBe(""); // ourselves (names are case-insensitive)
    s = server(s, ev.message(msg(5)));
    a = announcement(a.seen, s.rooms.lobby, ME);
    expect(a.text).toBe("bob: m5");
    const other = { ...s.rooms.lobby, name: "general" };
    expect(announcement(a.seen, other, ME).text).toBe("");
  });
});
