import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { sentence } from "../format";
import type { ChatState } from "../model";
import { Avatar } from "./Avatar";

interface Props {
  id: string;
  /** Open as a drawer (phones): focus moves into it. */
  open: boolean;
  state: ChatState;
  names: string[];
  me: string;
  onSelect: (room: string) => void;
  /** Returns an error text or "". */
  onCreate: (name: string) => string;
  onClearCreateError: () => void;
  /** Asks for the next page of the room list. */
  onLoadMore: () => void;
  onLogout: () => void;
  onClose: () => void;
}

export function Sidebar({
  id,
  open,
  state,
  names,
  me,
  onSelect,
  onCreate,
  onClearCreateError,
  onLoadMore,
  onLogout,
  onClose,
}: Props) {
  const [name, setName] = useState("");
  const [localError, setLocalError] = useState("");
  const fieldId = useId();
  const error = localError || state.createRoom.error;
  const listRef = useRef<HTMLUListElement>(null);

  useEffect(() => {
    if (open) listRef.current?.querySelector<HTMLButtonElement>('[aria-current="page"], button')?.focus();
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

      <nav className="rooms" aria-label="Rooms">
        <h2 className="section-title">Rooms</h2>
        <ul className="room-list" data-testid="room-list" ref={listRef}>
          {names.map((n) => {
            const r = state.rooms[n];
            const unread = r?.unread ?? 0;
            const active = n === state.current;
            return (
              <li key={n}>
                <button
                  type="button"
                  className={`room-item${active ? " active" : ""}${unread > 0 ? " has-unread" : ""}`}
                  data-testid={`room-${n}`}
                  data-room={n}
                  data-unread={unread}
                  aria-current={active ? "page" : undefined}
                  onClick={() => onSelect(n)}
                >
                  <span className="hash" aria-hidden="true">
                    #
                  </span>
                  <span className="room-name">{n}</span>
                  {unread > 0 && (
                    <span className="badge" data-testid={`unread-${n}`} aria-label={`${unread} unread`}>
                      {unread > 99 ? "99+" : unread}
                    </span>
                  )}
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
      </form>

      <div className="account">
        <Avatar name={me} />
        <span className="account-name" data-testid="current-user" title={me}>
          {me}
        </span>
        <button className="btn btn-ghost btn-small" type="button" data-testid="logout-button" onClick={onLogout}>
          Log out
        </button>
      </div>
    </aside>
  );
}
