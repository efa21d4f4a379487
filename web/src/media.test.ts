import { describe, expect, it } from "vitest";
import { mediaMatches, onMediaChange, type MediaWindow } from "./media";

/** A window whose width can be changed; (min-width: Npx) queries only. */
function fakeWindow(width: number) {
  const lists: { query: string; min: number; last: boolean; fns: Set<(e: { matches: boolean }) => void> }[] = [];
  const win: MediaWindow & { resize: (w: number) => void } = {
    matchMedia(query: string) {
      const min = Number(/min-width:\s*(\d+)px/.exec(query)?.[1] ?? 0);
      const entry = { query, min, last: width >= min, fns: new Set<(e: { matches: boolean }) => void>() };
      lists.push(entry);
      return {
        get matches() {
          return width >= min;
        },
        addEventListener: (_t: "change", fn: (e: { matches: boolean }) => void) => entry.fns.add(fn),
        removeEventListener: (_t: "change", fn: (e: { matches: boolean }) => void) => entry.fns.delete(fn),
      };
    },
    resize(w: number) {
      width = w;
      for (const l of lists) {
        const now = width >= l.min;
        if (now !== l.last) {
          l.last = now;
          for (const fn of l.fns) fn({ matches: now });
        }
      }
    },
  };
  return win;
}

describe("media", () => {
  it("reports whether a query matches, false without matchMedia", () => {
    expect(mediaMatches("(min-width: 1100px)", fakeWindow(1280))).toBe(true);
    expect(mediaMatches("(min-width: 1100px)", fakeWindow(900))).toBe(false);
    expect(mediaMatches("(min-width: 1100px)", {})).toBe(false);
    expect(mediaMatches("(min-width: 1100px)", undefined)).toBe(false);
  });

  it("tells about crossing a breakpoint both ways, and stops after unsubscribing", () => {
    const win = fakeWindow(1280);
    const seen: boolean[] = [];
    const off = onMediaChange("(min-width: 1100px)", (m) => seen.push(m), win);
    win.resize(1200); // still wide: no event
    win.resize(900);
    win.resize(800);
    win.resize(1300);
    expect(seen).toEqual([false, true]);
    off();
    win.resize(900);
    expect(seen).toEqual([false, true]);
  });

  it("is a no-op without matchMedia or change events", () => {
    expect(() => onMediaChange("(min-width: 1px)", () => {}, {})()).not.toThrow();
    const old = { matchMedia: () => ({ matches: true }) };
    expect(() => onMediaChange("(min-width: 1px)", () => {}, old)()).not.toThrow();
  });
});
