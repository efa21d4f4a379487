import { memo } from "react";
import { formatFull, formatTime } from "../format";
import type { ChatMessage } from "../model";
import { Avatar } from "./Avatar";
import { LinkText } from "./LinkText";

interface Props {
  message: ChatMessage;
  mine: boolean;
  /** Continues the previous message's group: author and time shown only to screen readers. */
  grouped: boolean;
  onRetry: (clientMsgId: string) => void;
}

const STATUS_TEXT = { sending: "Sending…", sent: "Sent", failed: "Failed" } as const;

export const MessageItem = memo(function MessageItem({ message: m, mine, grouped, onRetry }: Props) {
  const time = formatTime(m.sentAt);
  const cls = ["msg", mine ? "mine" : "theirs", grouped ? "grouped" : "", `status-${m.status}`].filter(Boolean).join(" ");
  return (
    <li
      className={cls}
      data-testid="message"
      data-key={m.key}
      data-seq={m.seq ?? ""}
      data-author={m.author}
      data-status={m.status}
      data-client-msg-id={m.clientMsgId || undefined}
    >
      <div className="msg-avatar">{!grouped && !mine && <Avatar name={m.author} />}</div>
      <div className="msg-body">
        <div className={`msg-meta${grouped ? " sr-only" : ""}`}>
          <span className="msg-author" data-testid="message-author">
            {m.author}
          </span>
          {time && (
            <time className="msg-time" dateTime={m.sentAt} title={formatFull(m.sentAt)} data-testid="message-time">
              {time}
            </time>
          )}
        </div>
        <div className="msg-bubble" title={grouped ? formatFull(m.sentAt) : undefined}>
          <p className="msg-text" data-testid="message-text" dir="auto">
            <LinkText text={m.text} />
          </p>
        </div>
        {m.local && (
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
