// Media-query helpers for the layout (pure apart from the injected window).

/** The part of window this module uses. */
export interface MediaWindow {
  matchMedia?: (query: string) => {
    matches: boolean;
    addEventListener?: (type: "change", fn: (e: { matches: boolean }) => void) => void;
    removeEventListener?: (type: "change", fn: (e: { matches: boolean }) => void) => void;
  };
}

/** Whether the query matches now (false where matchMedia is missing). */
export function mediaMatches(query: string, win: MediaWindow | undefined = globalThis as MediaWindow): boolean {
  return win?.matchMedia?.(query).matches ?? false;
}

/**
 * Calls fn(matches) each time the query starts or stops matching (a window
 * resized or a tablet rotated across a breakpoint). Returns the unsubscribe.
 */
export function onMediaChange(
  query: string,
  fn: (matches: boolean) => void,
  win: MediaWindow | undefined = globalThis as MediaWindow,
): () => void {
  const mq = win?.matchMedia?.(query);
  if (!mq || typeof mq.addEventListener !== "function") return () => {};
  const listener = (e: { matches: boolean }) => fn(e.matches);
  mq.addEventListener("change", listener);
  return () => mq.removeEventListener?.("change", listener);
}
