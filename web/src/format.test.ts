import { describe, expect, it } from "vitest";
import { appendedCount, continuesGroup, dayLabel, formatTime, initials, sentence, startsNewDay, userHue } from "./format";
import type { ChatMessage } from "./model";

const at = (d: Date, author = "bob"): ChatMessage => ({
  key: d.toISOString(),
  room: "r",
  seq: 1,
  author,
  text: "",
  sentAt: d.toISOString(),
  clientMsgId: "",
  status: "sent",
  error: "",
  local: false,
  acked: false,
  deleted: false,
  bot: false,
});

describe("format", () => {
  const base = new Date(2026, 10, 25, 10, 0, 0); // local time

  it("groups messages of one author within five minutes on the same day", () => {
    expect(continuesGroup(at(base), at(new Date(base.getTime() + 4 * 60_000)))).toBe(true);
    expect(continuesGroup(at(base), at(new Date(base.getTime() + 6 * 60_000)))).toBe(false);
    expect(continuesGroup(at(base), at(base, "carol"))).toBe(false);
    expect(continuesGroup(undefined, at(base))).toBe(false);
  });

  it("puts a day divider before the first message and at day changes", () => {
    expect(startsNewDay(undefined, at(base))).toBe(true);
    expect(startsNewDay(at(base), at(new Date(2026, 10, 25, 23, 0)))).toBe(false);
    expect(startsNewDay(at(base), at(new Date(2026, 10, 26, 0, 1)))).toBe(true);
  });

  it("labels days", () => {
    expect(dayLabel(base.toISOString(), new Date(2026, 10, 25, 18))).toBe("Today");
    expect(dayLabel(base.toISOString(), new Date(2026, 10, 26, 8))).toBe("Yesterday");
    expect(dayLabel(base.toISOString(), new Date(2026, 11, 30))).not.toMatch(/Today|Yesterday/);
    expect(dayLabel("", base)).toBe("");
  });

  it("formats a time and tolerates bad input", () => {
    expect(formatTime(base.toISOString())).toMatch(/10/);
    expect(formatTime("")).toBe("");
    expect(formatTime("not a date")).toBe("");
  });

  it("makes initials and stable hues", () => {
    expect(initials("alice")).toBe("AL");
    expect(initials("john.doe")).toBe("JD");
    expect(userHue("alice")).toBe(userHue("alice"));
    expect(userHue("alice")).toBeGreaterThanOrEqual(0);
    expect(userHue("alice")).toBeLessThan(360);
  });
});

describe("appendedCount", () => {
  const list = (...keys: string[]) => keys.map((key) => ({ key }));
  it("counts every message after the previous last one (several can come in one frame)", () => {
    expect(appendedCount("s:3", list("s:1", "s:2", "s:3", "s:4"))).toBe(1);
    expect(appendedCount("s:3", list("s:1", "s:2", "s:3", "s:4", "s:5", "s:6"))).toBe(3);
    expect(appendedCount("s:3", list("s:1", "s:2", "s:3"))).toBe(0);
  });
  it("counts all from an empty list, and 1 when the previous last one is gone", () => {
    expect(appendedCount("", list("s:1", "s:2"))).toBe(2);
    expect(appendedCount("s:9", list("s:1", "s:2"))).toBe(1);
    expect(appendedCount("s:1", [])).toBe(0);
  });
});

describe("sentence", () => {
  it("capitalizes the first letter only", () => {
    expect(sentence("invalid username or password")).toBe("Invalid username or password");
    expect(sentence("Already fine")).toBe("Already fine");
    expect(sentence("")).toBe("");
  });
});
