import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { sentence } from "../format";
import type { ChatState } from "../model";
import { directLabel, isPrivate } from "../roles";
import { actionKey } from "../state-members";
import { Avatar } from "./Avatar";
import { LockIcon } from "./CreateRoomDialog";

interface Props {
  id: string;
  /** Open as a drawer (phones): focus moves into it. */
  open: boolean;
  state: ChatState;
  names: string[];
  /** The user's direct rooms. */
  directs: string[];
  me: string;
  onSelect: (room: string) => void;
  /** Returns an error text or "". */
  onCreate: (name: string) => string;
  onClearCreateError: () => void;
  /** Asks for the next page of the room list. */
  onLoadMore: () => void;
  onLogout: () => void;
  onClose: () => void;
  /** Opens the "new message" picker. */
  onNewDirect: () => void;
  /** Opens the new room dialog (private picked). */
  onNewPrivate: () => void;
  onRespond: (room: string, accept: boolean) => void;
  /** The user's display name ("" if none). */
  displayName: string;
  /** Opens the account settings. */
  onSettings: () => void;
}

// A room's unread count, when it has any.
function UnreadBadge({ room, unread }: { room: string; unread: number }) {
  if (unread <= 0) return null;
  return (
    <span className="badge" data-testid={`unread-${room}`} aria-label={`${unread} unread`}>
      {unread > 99 ? "99+" : unread}
    </span>
  );
}

export function Sidebar({
  id,
  open,
  state,
  names,
  directs,
  me,
  onSelect,
  onCreate,
  onClearCreateError,
  onLoadMore,
  onLogout,
  onClose,
  onNewDirect,
  onNewPrivate,
  onRespond,
  displayName,
  onSettings,
}: Props) {
  const [name, setName] = useState("");
  const [localError, setLocalError] = useState("");
  const fieldId = useId();
  const error = localError || state.createRoom.error;

  const navRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (open) navRef.current?.querySelector<HTMLButtonElement>('[aria-current="page"], .room-item')?.focus();
  }, [open]);

  function submit(e: FormEvent) {
    e.preventDefault();
    const n = name.trim().toLowerCase();
    if (n === "") return;
    const err = onCreate(n);
    setLocalError(err);
    if (!err) setName("");
  }

  return (
    <aside className="sidebar" id={id} aria-label="Rooms and account">
      <div className="sidebar-head">
        <div className="brand">
          <svg viewBox="0 0 32 32" width="26" height="26" aria-hidden="true">
            <rect width="32" height="32" rx="9" fill="currentColor" />
            <path d="M8 10h16v9H14l-4 4v-4H8z" fill="#fff" />
          </svg>
          <span>Chat</span>
        </div>
        <button className="icon-btn sidebar-close" type="button" aria-label="Close room list" onClick={onClose}>
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path d="M6 6l12 12M18 6 6 18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
        </button>
      </div>

      <nav className="rooms" aria-label="Rooms" ref={navRef}>
        {state.invites.length > 0 && (
          <section className="invites" aria-label="Invitations">
            <h2 className="section-title">
              Invitations <span className="count-pill">{state.invites.length}</span>
            </h2>
            <ul className="invite-list" data-testid="invite-list">
              {state.invites.map((inv) => {
                const name = inv.room.name;
                const st = state.actions[actionKey("respond", name)];
                return (
                  <li key={name} className="invite-card" data-testid="invite-item" data-room={name}>
                    <div className="invite-room">
                      <LockIcon size={12} />
                      <span className="room-name">{name}</span>
                    </div>
                    <p className="invite-from">
                      {inv.invitedBy ? `${inv.invitedBy} invited you` : "You are invited"}
                      {inv.room.topic ? ` · ${inv.room.topic}` : ""}
                    </p>
                    <div className="invite-actions">
                      <button
                        className="btn btn-primary btn-small"
                        type="button"
                        data-testid="invite-accept"
                        disabled={st?.pending === true}
                        onClick={() => onRespond(name, true)}
                      >
                        Accept
                      </button>
                      <button
                        className="btn btn-ghost btn-small"
                        type="button"
                        data-testid="invite-decline"
                        disabled={st?.pending === true}
                        onClick={() => onRespond(name, false)}
                      >
                        Decline
                      </button>
                    </div>
                  </li>
                );
              })}
            </ul>
          </section>
        )}

        <h2 className="section-title">Rooms</h2>
        <ul className="room-list" data-testid="room-list">
          {names.map((n) => {
            const r = state.rooms[n];
            const unread = r?.unread ?? 0;
            const active = n === state.current;
            const info = r?.info ?? null;
            return (
              <li key={n}>
                <button
                  type="button"
                  className={`room-item${active ? " active" : ""}${unread > 0 ? " has-unread" : ""}${info?.archived ? " archived" : ""}`}
                  data-testid={`room-${n}`}
                  data-room={n}
                  data-unread={unread}
                  data-kind={isPrivate(info) ? "private" : "public"}
                  aria-current={active ? "page" : undefined}
                  onClick={() => onSelect(n)}
                >
                  <span className="hash" aria-hidden="true">
                    {isPrivate(info) ? <LockIcon size={13} /> : "#"}
                  </span>
                  <span className="room-name">{n}</span>
                  {isPrivate(info) && <span className="sr-only"> (private)</span>}
                  {info?.archived && <span className="sr-only"> (archived)</span>}
                  <UnreadBadge room={n} unread={unread} />
                </button>
              </li>
            );
          })}
        </ul>
        {!state.roomsLoaded && state.connection === "open" && <p className="muted small pad">Loading rooms…</p>}
        {state.roomsCursor !== "" && (
          <button className="btn btn-ghost btn-small more-rooms" type="button" data-testid="more-rooms" onClick={onLoadMore}>
            More rooms
          </button>
        )}

        <div className="section-row">
          <h2 className="section-title">Direct messages</h2>
          <button className="icon-btn section-add" type="button" data-testid="new-dm" aria-label="New message" title="New message" onClick={onNewDirect}>
            <PlusIcon />
          </button>
        </div>
        <ul className="room-list" data-testid="dm-list">
          {directs.map((n) => {
            const r = state.rooms[n];
            const unread = r?.unread ?? 0;
            const active = n === state.current;
            const label = directLabel(r?.info ?? null, me);
            return (
              <li key={n}>
                <button
                  type="button"
                  className={`room-item dm-item${active ? " active" : ""}${unread > 0 ? " has-unread" : ""}`}
                  data-testid={`room-${n}`}
                  data-room={n}
                  data-dm-label={label}
                  data-unread={unread}
                  aria-current={active ? "page" : undefined}
                  onClick={() => onSelect(n)}
                >
                  <Avatar name={label} size={20} />
                  <span className="room-name">{label}</span>
                  <UnreadBadge room={n} unread={unread} />
                </button>
              </li>
            );
          })}
        </ul>
        {directs.length === 0 && (
          <button className="link-btn sidebar-hint" type="button" onClick={onNewDirect}>
            Start a conversation
          </button>
        )}
      </nav>

      <form className="create-room" onSubmit={submit} data-testid="create-room-form">
        <label className="field-label" htmlFor={fieldId}>
          New room
        </label>
        <div className="create-row">
          <input
            id={fieldId}
            data-testid="create-room-input"
            placeholder="room-name"
            value={name}
            maxLength={64}
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? `${fieldId}-err` : undefined}
            onChange={(e) => {
              setName(e.target.value);
              if (localError) setLocalError("");
              if (state.createRoom.error) onClearCreateError();
            }}
          />
          <button
            className="btn btn-primary btn-small"
            type="submit"
            data-testid="create-room-submit"
            disabled={state.createRoom.pending || name.trim() === ""}
          >
            {state.createRoom.pending ? "Creating…" : "Create"}
          </button>
        </div>
        {error && (
          <p className="field-error" id={`${fieldId}-err`} role="alert" data-testid="create-room-error">
            {sentence(error)}
          </p>
        )}
        <button className="link-btn new-private" type="button" data-testid="new-private-room" onClick={onNewPrivate}>
          <LockIcon size={12} /> New private room…
        </button>
      </form>

      <div className="account">
        <div className="account-who">
          <Avatar name={me} />
          <span className="account-names">
            {displayName && (
              <span className="account-display" data-testid="current-display-name" title={displayName}>
                {displayName}
              </span>
            )}
            <span className={`account-name${displayName ? " secondary" : ""}`} data-testid="current-user" title={me}>
              {me}
            </span>
          </span>
        </div>
        <div className="account-actions">
          <button className="btn btn-ghost btn-small" type="button" data-testid="settings-button" onClick={onSettings}>
            <GearIcon /> Settings
          </button>
          <button className="btn btn-ghost btn-small" type="button" data-testid="logout-button" onClick={onLogout}>
            Log out
          </button>
        </div>
      </div>
    </aside>
  );
}

function GearIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <circle cx="12" cy="12" r="3.2" stroke="currentColor" strokeWidth="2" fill="none" />
      <path
        d="M12 2.8v2.4M12 18.8v2.4M2.8 12h2.4M18.8 12h2.4M5.5 5.5l1.7 1.7M16.8 16.8l1.7 1.7M5.5 18.5l1.7-1.7M16.8 7.2l1.7-1.7"
        stroke="currentColor"
        strokeWidth="2"
        strokeLinecap="round"
      />
    </svg>
  );
}

function PlusIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <path d="M12 5v14M5 12h14" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
    </svg>
  );
}
