import type { Ref } from "react";
import type { RoomState } from "../model";
import { directLabel, isDirect, isPrivate, permissions } from "../roles";
import { Avatar } from "./Avatar";
import { LockIcon } from "./CreateRoomDialog";
import { PersonPlusIcon } from "./MemberList";

interface Props {
  name: string;
  room: RoomState | undefined;
  me: string;
  admin: boolean;
  toggleRef: Ref<HTMLButtonElement>;
  sidebarOpen: boolean;
  membersOpen: boolean;
  totalUnread: number;
  memberCount: number;
  onToggleSidebar: () => void;
  onToggleMembers: () => void;
  onInvite: () => void;
  onSettings: () => void;
}

/** The room in view: its name (or the people of a direct room), topic, and what may be done with it. */
export function RoomHeader(p: Props) {
  const info = p.room?.info ?? null;
  const direct = isDirect(p.name, info);
  const can = permissions(p.name, info, p.admin);
  const label = direct ? directLabel(info, p.me) : p.name;
  const topic = info?.topic ?? "";

  return (
    <header className="chat-header">
      <button
        ref={p.toggleRef}
        className="icon-btn sidebar-toggle"
        type="button"
        data-testid="sidebar-toggle"
        aria-label="Show rooms"
        aria-controls="sidebar"
        aria-expanded={p.sidebarOpen}
        onClick={p.onToggleSidebar}
      >
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
          <path d="M3 6h18M3 12h18M3 18h18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
        {p.totalUnread > 0 && <span className="dot" aria-hidden="true" />}
      </button>
      <div className="chat-titles">
        <h2 className="chat-title" data-testid="room-title" data-label={label}>
          {direct ? (
            <span className="title-avatar" aria-hidden="true">
              <Avatar name={label} size={22} />
            </span>
          ) : (
            <span className="hash" aria-hidden="true">
              {isPrivate(info) ? <LockIcon size={15} /> : "#"}
            </span>
          )}
          <span className="chat-title-text">{label}</span>
          {info?.archived && (
            <span className="title-tag" data-testid="archived-tag">
              archived
            </span>
          )}
        </h2>
        {topic && (
          <p className="chat-topic" data-testid="room-topic" title={topic} dir="auto">
            {topic}
          </p>
        )}
      </div>
      {can.invite && (
        <button className="icon-btn header-btn" type="button" data-testid="invite-button" aria-label="Invite people" title="Invite people" onClick={p.onInvite}>
          <PersonPlusIcon />
        </button>
      )}
      <button
        className="icon-btn header-btn"
        type="button"
        data-testid="room-settings-button"
        aria-label="Room settings"
        title="Room settings"
        onClick={p.onSettings}
      >
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path
            d="M12 15.2a3.2 3.2 0 1 0 0-6.4 3.2 3.2 0 0 0 0 6.4Zm7.4-2.2.1-1-.1-1 2-1.6-2-3.4-2.4 1a7.6 7.6 0 0 0-1.7-1L15 3.5h-4l-.3 2.5a7.6 7.6 0 0 0-1.7 1l-2.4-1-2 3.4 2 1.6-.1 1 .1 1-2 1.6 2 3.4 2.4-1c.5.4 1.1.8 1.7 1l.3 2.5h4l.3-2.5c.6-.2 1.2-.6 1.7-1l2.4 1 2-3.4Z"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
            strokeLinejoin="round"
          />
        </svg>
      </button>
      <button
        className="members-btn"
        type="button"
        data-testid="members-toggle"
        aria-controls="presence"
        aria-expanded={p.membersOpen}
        onClick={p.onToggleMembers}
        title="Members"
      >
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <path
            d="M16 11a3 3 0 1 0-3-3 3 3 0 0 0 3 3Zm-8 0a3 3 0 1 0-3-3 3 3 0 0 0 3 3Zm0 2c-2.7 0-6 1.3-6 3.5V19h12v-2.5C14 14.3 10.7 13 8 13Zm8 0c-.3 0-.7 0-1.1.1A4.3 4.3 0 0 1 16 16.5V19h6v-2.5c0-2.2-3.3-3.5-6-3.5Z"
            fill="currentColor"
          />
        </svg>
        <span data-testid="member-count">{p.memberCount}</span>
        <span className="sr-only"> members online</span>
      </button>
    </header>
  );
}
