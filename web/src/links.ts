// Link detection for message text. Only absolute http:// and https:// URLs
// become links; everything else (javascript:, data:, www.example.com, mail
// addresses, HTML) stays plain text. The UI renders the segments as React
// text nodes and <a> elements — never as HTML.

export type Segment = { kind: "text"; text: string } | { kind: "link"; text: string; href: string };

// A candidate starts at "http://" or "https://"; one glued to a preceding
// letter or digit ("xhttp://") is skipped. In "javascript:http://x" only the
// http URL becomes the link, so the href is always http(s).
const CANDIDATE = /https?:\/\/[^\s<>"'`\u0000-\u001f\u007f]+/gi;

const TRAILING_PUNCT = new Set([".", ",", ";", ":", "!", "?", "'", '"', "*", "_", "~"]);

const PAIRS: Record<string, string> = { ")": "(", "]": "[", "}": "{", ">": "<" };

/**
 * Drops trailing punctuation that is almost never part of a URL. Linear in the
 * URL's length: the brackets are counted once, and each dropped character
 * updates the counts (a URL followed by thousands of ")" used to be re-split
 * for every one of them, quadratic).
 */
function trimUrl(url: string): string {
  const count: Record<string, number> = { "(": 0, ")": 0, "[": 0, "]": 0, "{": 0, "}": 0, "<": 0, ">": 0 };
  for (const c of url) if (c in count) count[c]++;
  let end = url.length;
  while (end > 0) {
    const last = url[end - 1];
    if (TRAILING_PUNCT.has(last)) {
      end--;
      continue;
    }
    const open = PAIRS[last];
    // Keep a closing bracket only when it balances one inside the URL
    // (e.g. https://en.wikipedia.org/wiki/Foo_(bar)).
    if (open !== undefined && count[last] > count[open]) {
      count[last]--;
      end--;
      continue;
    }
    break;
  }
  return url.slice(0, end);
}

/** Returns the href for a safe http(s) URL, or null. */
export function safeHref(candidate: string): string | null {
  if (!/^https?:\/\//i.test(candidate)) return null;
  let parsed: URL;
  try {
    parsed = new URL(candidate);
  } catch {
    return null;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  if (parsed.hostname === "") return null;
  return parsed.href;
}

/** Splits text into plain-text and link segments. Concatenating every segment's text gives the input back. */
export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  const pushText = (t: string) => {
    if (t === "") return;
    const prev = out[out.length - 1];
    if (prev && prev.kind === "text") prev.text += t;
    else out.push({ kind: "text", text: t });
  };
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    const start = m.index;
    const before = start > 0 ? text[start - 1] : "";
    const raw = trimUrl(m[0]);
    const href = /[A-Za-z0-9]/.test(before) ? null : safeHref(raw);
    if (href === null) continue;
    pushText(text.slice(last, start));
    out.push({ kind: "link", text: raw, href });
    last = start + raw.length;
    CANDIDATE.lastIndex = last;
  }
  pushText(text.slice(last));
  return out;
}
