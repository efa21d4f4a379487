import { useState, type FormEvent } from "react";
import type { MembershipActions } from "../client-members";
import { Role } from "../gen/chat/v1/chat_pb";
import { sameUser } from "../messages";
import type { ChatState, RoomState } from "../model";
import { ROLE_NAMES, canRemove, effectiveRole, isPublic, permissions, roleChoices, roomLabel, type Permissions } from "../roles";
import { actionKey, memberRows, type MemberRow } from "../state-members";
import { Avatar } from "./Avatar";
import { DotsIcon, Popover } from "./Popover";

interface Props {
  id: string;
  room: RoomState;
  me: string;
  admin: boolean;
  actions: MembershipActions;
  /** Where each request stands (ChatState.actions). */
  status: ChatState["actions"];
  onInvite: () => void;
  onClose: () => void;
}

export function MemberList({ id, room, me, admin, actions, status, onInvite, onClose }: Props) {
  const can = permissions(room.name, room.info, admin);
  const myRole = effectiveRole(room.info, admin);
  const list = memberRows(room);
  const typing = new Set(Object.keys(room.typing));
  const online = list.filter((r) => r.online).length;
  const { invited, banned } = room.roster;

  return (
    <aside className="presence" id={id} aria-label={`Members of ${roomLabel(room.name, room.info, me)}`}>
      <div className="presence-head">
        <h2 className="section-title">
          Members <span className="muted">· {list.length}</span>
        </h2>
        <button className="icon-btn presence-close" type="button" aria-label="Close members" onClick={onClose}>
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
            <path d="M6 6l12 12M18 6 6 18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
        </button>
      </div>
      {can.invite && (
        <button className="btn btn-secondary btn-small members-invite" type="button" data-testid="members-invite" onClick={onInvite}>
          <PersonPlusIcon /> Invite people
        </button>
      )}
      {list.length > 0 && (
        <p className="muted small presence-online" data-testid="members-online">
          {online} online
        </p>
      )}
      <ul className="presence-list" data-testid="presence-list">
        {list.map((m) => (
          <li
            key={m.user}
            className={`presence-item${m.online ? "" : " offline"}`}
            data-testid="presence-member"
            data-user={m.user}
            data-role={ROLE_NAMES[m.role] || "visitor"}
            data-online={m.online}
          >
            <span className="presence-avatar">
              <Avatar name={m.user} size={28} />
              <span className={m.online ? "online-dot" : "online-dot away"} aria-hidden="true" />
            </span>
            <span className="presence-name">
              {m.user}
              {sameUser(m.user, me) && <span className="muted"> (you)</span>}
              <span className="sr-only">{m.online ? ", online" : ", offline"}</span>
            </span>
            {typing.has(m.user) && <span className="muted small">typing…</span>}
            {m.role >= Role.MODERATOR && (
              <span className={`role-badge role-${ROLE_NAMES[m.role]}`} data-testid="role-badge">
                {m.role === Role.OWNER ? "owner" : "mod"}
              </span>
            )}
            <MemberMenu room={room.name} info={room.info} row={m} me={me} can={can} myRole={myRole} admin={admin} actions={actions} />
          </li>
        ))}
      </ul>
      {room.roster.status === "error" && (
        <p className="field-error pad" role="alert">
          Could not load the members: {room.roster.error}
        </p>
      )}
      {room.members.length < room.memberCount && (
        <p className="muted small pad">and {room.memberCount - room.members.length} more in the room</p>
      )}
      {!room.joined && list.length === 0 && <p className="muted small pad">Not connected to this room yet.</p>}

      {can.moderate && invited.length > 0 && (
        <>
          <h3 className="section-title">Invited · {invited.length}</h3>
          <ul className="presence-list" data-testid="invited-list">
            {invited.map((u) => (
              <li key={u} className="presence-item offline" data-testid="invited-member" data-user={u}>
                <Avatar name={u} size={28} />
                <span className="presence-name">{u}</span>
                <span className="muted small">pending</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {can.moderate && banned.length > 0 && (
        <>
          <h3 className="section-title">Banned · {banned.length}</h3>
          <ul className="presence-list" data-testid="banned-list">
            {banned.map((u) => (
              <li key={u} className="presence-item offline" data-testid="banned-member" data-user={u}>
                <Avatar name={u} size={28} />
                <span className="presence-name">{u}</span>
                <button
                  className="link-btn small"
                  type="button"
                  data-testid="member-unban"
                  disabled={status[actionKey("unban", room.name, u)]?.pending === true}
                  onClick={() => actions.unban(room.name, u)}
                >
                  Unban
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </aside>
  );
}

interface MenuProps {
  room: string;
  info: RoomState["info"];
  row: MemberRow;
  me: string;
  can: Permissions;
  myRole: Role;
  admin: boolean;
  actions: MembershipActions;
}

/** Role changes (owner), kick and ban (moderators, on lower roles) for one member. */
function MemberMenu({ room, info, row, me, can, myRole, admin, actions }: MenuProps) {
  const [removing, setRemoving] = useState<"" | "kick" | "ban">("");
  const [reason, setReason] = useState("");
  const [error, setError] = useState("");
  const remove = canRemove(can, myRole, admin, row, me);
  const choices = roleChoices(can, row, me, isPublic(room, info));
  if (!remove && choices.length === 0) return null;

  return (
    <Popover label={`Actions for ${row.user}`} testId="member-menu" face={<DotsIcon />} className="member-menu">
      {(close) =>
        removing ? (
          <form
            className="menu-form"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              const err = removing === "kick" ? actions.kick(room, row.user, reason) : actions.ban(room, row.user, reason);
              setError(err);
              if (!err) {
                setRemoving("");
                setReason("");
                close();
              }
            }}
          >
            <label className="field-label" htmlFor={`reason-${row.user}`}>
              {removing === "kick" ? `Remove ${row.user}` : `Ban ${row.user}`}
            </label>
            <input
              id={`reason-${row.user}`}
              data-testid="moderation-reason"
              placeholder="Reason (optional, they see it)"
              value={reason}
              maxLength={256}
              onChange={(e) => setReason(e.target.value)}
            />
            {error && <p className="dialog-error">{error}</p>}
            <div className="menu-form-actions">
              <button className="btn btn-secondary btn-small" type="button" onClick={() => setRemoving("")}>
                Back
              </button>
              <button className="btn btn-danger btn-small" type="submit" data-testid="moderation-confirm">
                {removing === "kick" ? "Remove" : "Ban"}
              </button>
            </div>
          </form>
        ) : (
          <>
            {choices.map((r) => (
              <button
                key={r}
                type="button"
                role="menuitem"
                className="menu-item"
                data-testid={`role-${ROLE_NAMES[r]}`}
                onClick={() => {
                  actions.setRole(room, row.user, r);
                  close();
                }}
              >
                {r === Role.OWNER ? "Make owner (you become a moderator)" : r === Role.MODERATOR ? "Make moderator" : "Make member"}
              </button>
            ))}
            {remove && (
              <>
                <button type="button" role="menuitem" className="menu-item danger" data-testid="member-kick" onClick={() => setRemoving("kick")}>
                  Remove from room…
                </button>
                <button type="button" role="menuitem" className="menu-item danger" data-testid="member-ban" onClick={() => setRemoving("ban")}>
                  Ban from room…
                </button>
              </>
            )}
          </>
        )
      }
    </Popover>
  );
}

export function PersonPlusIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
      <circle cx="9" cy="8" r="3.5" fill="currentColor" />
      <path d="M2.5 19.5c0-3.3 3-5.5 6.5-5.5s6.5 2.2 6.5 5.5z" fill="currentColor" />
      <path d="M19 8v6M16 11h6" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
    </svg>
  );
}
