import { useMemo } from "react";
import { linkify } from "../links";

/**
 * Message text as React text nodes; http(s) URLs become links that open in a
 * new tab without access to this page. Never HTML.
 */
export function LinkText({ text }: { text: string }) {
  const segments = useMemo(() => linkify(text), [text]);
  return (
    <>
      {segments.map((s, i) =>
        s.kind === "link" ? (
          <a key={i} href={s.href} target="_blank" rel="noopener noreferrer">
            {s.text}
          </a>
        ) : (
          s.text
        ),
      )}
    </>
  );
}
