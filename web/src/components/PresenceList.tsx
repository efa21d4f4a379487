import type { RoomState } from "../model";
import { Avatar } from "./Avatar";

interface Props {
  id: string;
  room: RoomState;
  me: string;
  onClose: () => void;
}

export function PresenceList({ id, room, me, onClose }: Props) {
  const count = Math.max(room.memberCount, room.members.length);
  const typing = new Set(Object.keys(room.typing));
  return (
    <aside className="presence" id={id} aria-label={`Members of ${room.name}`}>
      <div className="presence-head">
        <h2 className="section-title">
          Members <span className="muted">· {count}</span>
        </h2>
        <button className="icon-btn presence-close" type="button" aria-label="Close members" onClick={onClose}>
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
            <path d="M6 6l12 12M18 6 6 18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
        </button>
      </div>
      <ul className="presence-list" data-testid="presence-list">
        {room.members.map((u) => (
          <li key={u} className="presence-item" data-testid="presence-member" data-user={u}>
            <span className="presence-avatar">
              <Avatar name={u} size={28} />
              <span className="online-dot" aria-hidden="true" />
            </span>
            <span className="presence-name">
              {u}
              {u === me && <span className="muted"> (you)</span>}
            </span>
            {typing.has(u) && <span className="muted small">typing…</span>}
          </li>
        ))}
      </ul>
      {room.members.length < count && (
        <p className="muted small pad">and {count - room.members.length} more</p>
      )}
      {!room.joined && room.members.length === 0 && <p className="muted small pad">Not connected to this room yet.</p>}
    </aside>
  );
}
