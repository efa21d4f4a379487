import { Fragment, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { appendedCount, continuesGroup, dayLabel, startsNewDay } from "../format";
import { sameUser } from "../messages";
import type { ChatMessage, ProfileEntry, RoomState } from "../model";
import { profileKey } from "../state-profiles";
import { MessageItem } from "./MessageItem";

interface Props {
  room: RoomState;
  /** visibleMessages(room): confirmed by seq, then optimistic. */
  messages: ChatMessage[];
  me: string;
  onLoadOlder: () => void;
  onRetry: (clientMsgId: string) => void;
  /** The user may delete anyone's messages here (moderator, owner, server admin). */
  moderator: boolean;
  onDelete: (seq: number) => void;
  /** "#dev", or the other users of a direct room. */
  label: string;
  direct: boolean;
  /** ChatState.profiles: display names, bots, deleted accounts. */
  profiles: Record<string, ProfileEntry>;
  /** The authors on screen: fetch the profiles not known yet. */
  onWantProfiles: (names: string[]) => void;
}

interface Snapshot {
  count: number;
  lastKey: string;
  anchorKey: string;
  anchorTop: number;
  atBottom: boolean;
}

const NEAR_TOP = 300;
const NEAR_BOTTOM = 48;

function escapeKey(key: string): string {
  return typeof CSS !== "undefined" && CSS.escape ? CSS.escape(key) : key.replace(/["\\]/g, "\\$&");
}

/**
 * The scrolling message list. Starts at the bottom, follows new messages
 * while the reader is at the bottom, loads older pages when scrolled near the
 * top and keeps the reader's place when they are prepended.
 */
export function MessageList({ room, messages, me, onLoadOlder, onRetry, moderator, onDelete, label, direct, profiles, onWantProfiles }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const snap = useRef<Snapshot>({ count: 0, lastKey: "", anchorKey: "", anchorTop: 0, atBottom: true });
  const [newBelow, setNewBelow] = useState(0);

  const canLoadOlder = room.history === "loaded" && room.hasMoreOlder;

  // Display names of the authors shown (the client skips the ones it has).
  useEffect(() => {
    const authors = new Set<string>();
    for (const m of messages) authors.add(m.author);
    if (authors.size > 0) onWantProfiles(Array.from(authors));
  }, [messages, onWantProfiles]);

  /** Remembers where the reader is: the first message element and its offset. */
  const record = useCallback(() => {
    const el = box.current;
    if (!el) return;
    const s = snap.current;
    s.atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM;
    const first = el.querySelector<HTMLElement>("[data-key]");
    s.anchorKey = first?.dataset.key ?? "";
    s.anchorTop = first ? first.offsetTop - el.scrollTop : 0;
  }, []);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const prev = { ...snap.current };
    const last = messages[messages.length - 1];
    const lastKey = last?.key ?? "";
    const appended = lastKey !== prev.lastKey && prev.count > 0;
    if (prev.count === 0 || prev.atBottom) {
      el.scrollTop = el.scrollHeight;
    } else {
      // Keep the element that was on top where it was (older pages prepend above it).
      if (prev.anchorKey) {
        const anchor = el.querySelector<HTMLElement>(`[data-key="${escapeKey(prev.anchorKey)}"]`);
        if (anchor) el.scrollTop = anchor.offsetTop - prev.anchorTop;
      }
      if (appended) {
        if (last && last.local && last.status === "sending") el.scrollTop = el.scrollHeight;
        else {
          const added = appendedCount(prev.lastKey, messages);
          if (added > 0) setNewBelow((n) => n + added);
        }
      }
    }
    snap.current.count = messages.length;
    snap.current.lastKey = lastKey;
    record();
  }, [messages, record]);

  // Fill the viewport: keep loading older pages while the list does not scroll yet.
  useEffect(() => {
    const el = box.current;
    if (el && canLoadOlder && !room.loadingOlder && el.scrollTop < NEAR_TOP) onLoadOlder();
  }, [canLoadOlder, room.loadingOlder, messages, onLoadOlder]);

  // Stay at the bottom when the box resizes (window, mobile keyboard, composer growing).
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (snap.current.atBottom) el.scrollTop = el.scrollHeight;
      record();
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [record]);

  function onScroll() {
    const el = box.current;
    if (!el) return;
    record();
    if (snap.current.atBottom && newBelow > 0) setNewBelow(0);
    if (el.scrollTop < NEAR_TOP && canLoadOlder && !room.loadingOlder) onLoadOlder();
  }

  function jumpToBottom() {
    const el = box.current;
    if (!el) return;
    el.scrollTop = el.scrollHeight;
    setNewBelow(0);
    record();
  }

  const now = new Date();
  const nothingShown = messages.length === 0;

  return (
    <div className="message-scroller-wrap">
      <div
        ref={box}
        className="message-scroller"
        onScroll={onScroll}
        role="log"
        aria-live="off"
        aria-label={`Messages in ${label}`}
        aria-busy={room.history === "loading" || room.loadingOlder}
        tabIndex={0}
        data-testid="message-list"
        data-room={room.name}
        data-history={room.history}
      >
        <div className="message-inner">
          <div className="history-edge">
            {room.loadingOlder ? (
              <span className="muted small" data-testid="loading-older">
                <span className="spinner spinner-small" aria-hidden="true" /> Loading older messages…
              </span>
            ) : canLoadOlder ? (
              <button className="link-btn" type="button" onClick={onLoadOlder} data-testid="load-older">
                Load older messages
              </button>
            ) : room.history === "loaded" && !nothingShown ? (
              <span className="muted small" data-testid="room-start">
                {direct ? `This is the beginning of your conversation with ${label}` : `This is the beginning of ${label}`}
              </span>
            ) : null}
          </div>

          {nothingShown && room.history === "loaded" && (
            <div className="empty" data-testid="empty-room">
              <p className="empty-title">No messages yet</p>
              <p className="muted">Say hello to {label}!</p>
            </div>
          )}
          {nothingShown && (room.history === "loading" || room.history === "none") && (
            <div className="empty" aria-hidden="true">
              <div className="spinner" />
            </div>
          )}
          {room.history === "error" && (
            <p className="field-error pad" role="alert">
              Could not load messages: {room.error}
            </p>
          )}

          <ol className="messages">
            {messages.map((m, i) => {
              const prev = messages[i - 1];
              const newDay = startsNewDay(prev, m);
              return (
                <Fragment key={m.key}>
                  {newDay && (
                    <li className="day-divider" role="separator" aria-label={dayLabel(m.sentAt, now)}>
                      <span>{dayLabel(m.sentAt, now)}</span>
                    </li>
                  )}
                  <MessageItem
                    message={m}
                    mine={sameUser(m.author, me)}
                    grouped={!newDay && continuesGroup(prev, m)}
                    onRetry={onRetry}
                    canDelete={moderator || sameUser(m.author, me)}
                    onDelete={onDelete}
                    profile={profiles[profileKey(m.author)]?.profile}
                  />
                </Fragment>
              );
            })}
          </ol>
        </div>
      </div>
      {newBelow > 0 && (
        <button className="jump-btn" type="button" onClick={jumpToBottom} data-testid="jump-to-latest">
          {newBelow === 1 ? "1 new message" : `${newBelow} new messages`} ↓
        </button>
      )}
    </div>
  );
}
