import { describe, expect, it } from "vitest";
import { linkify, safeHref, type Segment } from "./links";

const links = (text: string) => linkify(text).filter((s): s is Extract<Segment, { kind: "link" }> => s.kind === "link");
const joined = (segs: Segment[]) => segs.map((s) => s.text).join("");

describe("linkify", () => {
  it("leaves plain text alone", () => {
    expect(linkify("hello world")).toEqual([{ kind: "text", text: "hello world" }]);
    expect(linkify("")).toEqual([]);
  });

  it("links http and https URLs", () => {
    expect(linkify("see https://example.com/a?b=1#c now")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", text: "https://example.com/a?b=1#c", href: "https://example.com/a?b=1#c" },
      { kind: "text", text: " now" },
    ]);
    expect(links("http://localhost:8080/x")).toEqual([
      { kind: "link", text: "http://localhost:8080/x", href: "http://localhost:8080/x" },
    ]);
  });

  it("is case-insensitive on the scheme", () => {
    expect(links("HTTPS://Example.COM/Path")[0].href).toBe("https://example.com/Path");
  });

  it("drops trailing punctuation", () => {
    expect(links("go to https://example.com.")[0].text).toBe("https://example.com");
    expect(links("(https://example.com/x)")[0].text).toBe("https://example.com/x");
    expect(links("really? https://example.com/?q=1!")[0].text).toBe("https://example.com/?q=1");
    expect(links('"https://example.com/quoted"')[0].text).toBe("https://example.com/quoted");
  });

  it("keeps balanced parentheses inside a URL", () => {
    expect(links("https://en.wikipedia.org/wiki/Foo_(bar)")[0].text).toBe("https://en.wikipedia.org/wiki/Foo_(bar)");
  });

  it("finds several links", () => {
    const l = links("a http://a.example b https://b.example/c, d");
    expect(l.map((x) => x.text)).toEqual(["http://a.example", "https://b.example/c"]);
  });

  it("never links other schemes", () => {
    for (const t of [
      "javascript:alert(1)",
      "JavaScript:alert(document.cookie)",
      "data:text/html;base64,PHNjcmlwdD4=",
      "vbscript:msgbox",
      "file:///etc/passwd",
      "ftp://example.com",
      "mailto:a@example.com",
      "www.example.com",
      "example.com",
      "//example.com/x",
    ]) {
      expect(links(t), t).toEqual([]);
    }
  });

  it("only links the http part of javascript:http://…, with an http href", () => {
    const l = links("javascript:http://evil.example/x");
    expect(l).toHaveLength(1);
    expect(l[0].href).toBe("http://evil.example/x");
    expect(l[0].href.startsWith("http://")).toBe(true);
  });

  it("does not start a link in the middle of a word", () => {
    expect(links("xhttp://example.com")).toEqual([]);
  });

  it("does not link a bare scheme or an empty host", () => {
    expect(links("http://")).toEqual([]);
    expect(links("https:// example.com")).toEqual([]);
  });

  it("keeps HTML as text and stops URLs at quotes and angle brackets", () => {
    const text = '<a href="javascript:alert(1)">x</a> <img src=x onerror=alert(1)> https://ok.example/"onmouseover="x';
    const segs = linkify(text);
    expect(joined(segs)).toBe(text);
    const l = segs.filter((s) => s.kind === "link");
    expect(l).toEqual([{ kind: "link", text: "https://ok.example/", href: "https://ok.example/" }]);
  });

  it("gives back the exact input when the segments are joined", () => {
    for (const t of ["a https://x.example b", "https://x.example", "(http://y.example/z).", "no links", "a\nhttps://q.example\nb"]) {
      expect(joined(linkify(t))).toBe(t);
    }
  });

  it("merges adjacent text segments", () => {
    expect(linkify("xhttp://a.example y")).toEqual([{ kind: "text", text: "xhttp://a.example y" }]);
  });

  it("handles long unbroken text", () => {
    const long = "a".repeat(5000);
    expect(linkify(long)).toEqual([{ kind: "text", text: long }]);
  });
});

describe("safeHref", () => {
  it("accepts only http(s) with a host", () => {
    expect(safeHref("https://example.com")).toBe("https://example.com/");
    expect(safeHref("javascript:alert(1)")).toBeNull();
    expect(safeHref("data:text/html,x")).toBeNull();
    expect(safeHref("http://")).toBeNull();
    expect(safeHref(" https://example.com")).toBeNull();
  });
});

describe("linkify on hostile input", () => {
  // "http://a/" followed by many ")" used to cost O(n²): trimUrl re-split the
  // whole URL for every ")" it dropped (4,000 took ~100 ms, 50,000 took ~23 s,
  // freezing every tab that showed the message). Now it is linear: a few ms.
  it("trims 50,000 unbalanced closing brackets in linear time", () => {
    const text = "http://a/" + ")".repeat(50_000);
    const start = performance.now();
    const segs = linkify(text);
    const elapsed = performance.now() - start;
    expect(segs).toEqual([
      { kind: "link", text: "http://a/", href: "http://a/" },
      { kind: "text", text: ")".repeat(50_000) },
    ]);
    // Generous bound for a loaded CI machine; the quadratic version took seconds.
    expect(elapsed).toBeLessThan(2000);
  });

  it("handles a page of worst-case 4 KiB messages quickly", () => {
    const msg = "see http://a/(x" + ")]}.,!?".repeat(585) + " end"; // ~4 KiB
    const start = performance.now();
    for (let i = 0; i < 200; i++) {
      const l = links(msg);
      expect(l).toEqual([{ kind: "link", text: "http://a/(x)", href: "http://a/(x)" }]);
    }
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it("still keeps only balanced brackets and drops mixed trailing punctuation", () => {
    expect(links("http://a/(b)))")[0].text).toBe("http://a/(b)");
    expect(links("http://a/[b](c).)")[0].text).toBe("http://a/[b](c)");
    expect(links("http://a/{b}}.~")[0].text).toBe("http://a/{b}");
    expect(joined(linkify("x http://a/((b)) y"))).toBe("x http://a/((b)) y");
  });
});
