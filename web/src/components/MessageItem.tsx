import { memo, useState } from "react";
import { formatFull, formatTime } from "../format";
import type { ChatMessage } from "../model";
import type { Profile } from "../protocol";
import { authorLabel } from "../state-profiles";
import { Avatar } from "./Avatar";
import { LinkText } from "./LinkText";
import { DotsIcon, Popover } from "./Popover";

interface Props {
  message: ChatMessage;
  mine: boolean;
  /** Continues the previous message's group: author and time shown only to screen readers. */
  grouped: boolean;
  onRetry: (clientMsgId: string) => void;
  /** The user may delete it (their own, or as a moderator): a small menu offers it. */
  canDelete: boolean;
  onDelete: (seq: number) => void;
  /** The author's profile: undefined while unknown, null when there is no such user. */
  profile?: Profile | null;
}

const STATUS_TEXT = { sending: "Sending…", sent: "Sent", failed: "Failed" } as const;

export const MessageItem = memo(function MessageItem({ message: m, mine, grouped, onRetry, canDelete, onDelete, profile }: Props) {
  const who = authorLabel(m.author, profile, m.bot);
  const time = formatTime(m.sentAt);
  const cls = ["msg", mine ? "mine" : "theirs", grouped ? "grouped" : "", `status-${m.status}`, m.deleted ? "deleted" : ""]
    .filter(Boolean)
    .join(" ");
  return (
    <li
      className={cls}
      data-testid="message"
      data-key={m.key}
      data-seq={m.seq ?? ""}
      data-author={m.author}
      data-status={m.status}
      data-client-msg-id={m.clientMsgId || undefined}
      data-deleted={m.deleted || undefined}
      data-bot={who.bot || undefined}
    >
      <div className="msg-avatar">{!grouped && !mine && <Avatar name={m.author} />}</div>
      <div className="msg-body">
        <div className={`msg-meta${grouped ? " sr-only" : ""}`}>
          <span
            className={`msg-author${who.deleted ? " deleted-user" : ""}`}
            data-testid="message-author"
            data-deleted-user={who.deleted || undefined}
            title={who.title}
          >
            <span className="msg-author-name" data-testid="message-author-name">
              {who.name}
            </span>
            {who.handle && (
              <span className="msg-author-handle" data-testid="message-author-handle">
                {who.handle}
              </span>
            )}
          </span>
          {who.bot && (
            <span className="bot-badge" data-testid="bot-badge" title="Sent by a bot account">
              bot
            </span>
          )}
          {time && (
            <time className="msg-time" dateTime={m.sentAt} title={formatFull(m.sentAt)} data-testid="message-time">
              {time}
            </time>
          )}
        </div>
        <div className="msg-row">
          <div className="msg-bubble" title={grouped ? formatFull(m.sentAt) : undefined}>
            {m.deleted ? (
              <p className="msg-text msg-tombstone" data-testid="message-tombstone">
                <svg viewBox="0 0 24 24" width="14" height="14" aria-hidden="true">
                  <circle cx="12" cy="12" r="8.5" stroke="currentColor" strokeWidth="2" fill="none" />
                  <path d="m6 18 12-12" stroke="currentColor" strokeWidth="2" />
                </svg>
                message deleted
              </p>
            ) : (
              <p className="msg-text" data-testid="message-text" dir="auto">
                <LinkText text={m.text} />
              </p>
            )}
          </div>
          {canDelete && !m.deleted && m.seq !== null && <MessageMenu seq={m.seq} onDelete={onDelete} />}
        </div>
        {m.local && !m.deleted && (
          <div className="msg-status" data-testid="message-status" aria-live={m.status === "failed" ? "assertive" : undefined}>
            {m.status === "failed" ? (
              <>
                <span className="failed-text">
                  Failed{m.error ? `: ${m.error}` : ""}
                </span>
                <button className="link-btn retry-btn" type="button" data-testid="message-retry" onClick={() => onRetry(m.clientMsgId)}>
                  Retry
                </button>
              </>
            ) : (
              <span className={m.status === "sending" ? "sending-text" : "sent-text"}>
                {m.status === "sent" && (
                  <svg viewBox="0 0 16 16" width="12" height="12" aria-hidden="true">
                    <path d="M3 8.5 6.5 12 13 4.5" stroke="currentColor" strokeWidth="2" fill="none" strokeLinecap="round" />
                  </svg>
                )}
                {STATUS_TEXT[m.status]}
              </span>
            )}
          </div>
        )}
      </div>
    </li>
  );
});

/** The "⋯" menu of a message: delete it, after a second click to be sure. */
function MessageMenu({ seq, onDelete }: { seq: number; onDelete: (seq: number) => void }) {
  const [sure, setSure] = useState(false);
  return (
    <Popover label="Message actions" testId="message-menu" face={<DotsIcon />} className="msg-menu" align="left" up>
      {(close) =>
        sure ? (
          <div className="menu-form">
            <p className="menu-text">Delete this message for everyone?</p>
            <div className="menu-form-actions">
              <button className="btn btn-secondary btn-small" type="button" onClick={() => setSure(false)}>
                Cancel
              </button>
              <button
                className="btn btn-danger btn-small"
                type="button"
                data-testid="message-delete-confirm"
                onClick={() => {
                  onDelete(seq);
                  setSure(false);
                  close();
                }}
              >
                Delete
              </button>
            </div>
          </div>
        ) : (
          <button type="button" role="menuitem" className="menu-item danger" data-testid="message-delete" onClick={() => setSure(true)}>
            Delete message…
          </button>
        )
      }
    </Popover>
  );
}
