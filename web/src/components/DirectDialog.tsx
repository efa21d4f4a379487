import { useEffect, useState } from "react";
import { MAX_DIRECT_USERS, type MembershipActions } from "../client-members";
import { sameUser } from "../messages";
import type { ChatState } from "../model";
import { Avatar } from "./Avatar";
import { Dialog, DialogError } from "./Dialog";
import { UserSearch } from "./UserSearch";

interface Props {
  state: ChatState;
  actions: MembershipActions;
  onClose: () => void;
}

/** "New message": pick 1 to 8 people, then open (or find) the direct room of all of you. */
export function DirectDialog({ state, actions, onClose }: Props) {
  const [picked, setPicked] = useState<string[]>([]);
  const [localError, setLocalError] = useState("");
  const status = state.actions.openDirect;

  useEffect(() => {
    actions.clearAction("openDirect");
    return () => {
      actions.clearAction("openDirect");
      actions.clearSearch();
    };
  }, [actions]);

  // The room is open (the client went into it): done here.
  useEffect(() => {
    if (status?.done) onClose();
  }, [status?.done, onClose]);

  const full = picked.length >= MAX_DIRECT_USERS;
  const has = (u: string) => picked.some((p) => sameUser(p, u));
  const toggle = (u: string) => {
    setLocalError("");
    setPicked((list) => (list.some((p) => sameUser(p, u)) ? list.filter((p) => !sameUser(p, u)) : [...list, u]));
  };

  function open() {
    setLocalError(actions.openDirect(picked));
  }

  const error = localError || status?.error || "";
  return (
    <Dialog title="New message" subtitle="Talk privately with up to 8 people." testId="dm-dialog" onClose={onClose}>
      <div className="dialog-body">
        {picked.length > 0 && (
          <ul className="chips" aria-label="People in the conversation">
            {picked.map((u) => (
              <li key={u} className="chip" data-testid="dm-picked" data-user={u}>
                <Avatar name={u} size={20} />
                <span>{u}</span>
                <button type="button" className="chip-remove" aria-label={`Remove ${u}`} onClick={() => toggle(u)}>
                  ×
                </button>
              </li>
            ))}
          </ul>
        )}
        <UserSearch
          search={state.userSearch}
          me={state.me}
          label="To"
          placeholder="Search people by username"
          onSearch={(p) => actions.searchUsers(p)}
          action={(u) => {
            const on = has(u);
            return (
              <button
                type="button"
                className={`btn btn-small ${on ? "btn-chosen" : "btn-secondary"}`}
                data-testid="user-pick"
                aria-pressed={on}
                disabled={!on && full}
                onClick={() => toggle(u)}
              >
                {on ? "✓ Added" : "Add"}
              </button>
            );
          }}
        />
        {full && <p className="muted small">That is as many as a conversation can have.</p>}
        <DialogError text={error} testId="dm-error" />
      </div>
      <div className="dialog-actions">
        <button className="btn btn-secondary" type="button" onClick={onClose}>
          Cancel
        </button>
        <button
          className="btn btn-primary"
          type="button"
          data-testid="dm-open"
          disabled={picked.length === 0 || status?.pending === true}
          onClick={open}
        >
          {status?.pending ? "Opening…" : picked.length > 1 ? "Start group conversation" : "Start conversation"}
        </button>
      </div>
    </Dialog>
  );
}
