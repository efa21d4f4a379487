import { useEffect, useRef } from "react";
import type { MembershipActions } from "../client-members";
import { sameUser } from "../messages";
import type { ChatState } from "../model";
import { actionKey } from "../state-members";
import { Dialog, DialogError } from "./Dialog";
import { UserSearch } from "./UserSearch";

interface Props {
  room: string;
  state: ChatState;
  actions: MembershipActions;
  onClose: () => void;
}

/** Find people by username and invite them to a room (moderators). */
export function InviteDialog({ room, state, actions, onClose }: Props) {
  const roster = state.rooms[room]?.roster;
  const sentTo = useRef(new Set<string>());

  useEffect(() => {
    const sent = sentTo.current;
    return () => {
      for (const u of sent) actions.clearAction(actionKey("invite", room, u));
      actions.clearSearch();
    };
  }, [actions, room]);

  const inList = (list: string[] | undefined, u: string) => (list ?? []).some((x) => sameUser(x, u));
  const isMember = (u: string) => (roster?.members ?? []).some((m) => sameUser(m.user, u));

  const errors = Array.from(sentTo.current)
    .map((u) => ({ u, e: state.actions[actionKey("invite", room, u)]?.error ?? "" }))
    .filter((x) => x.e !== "");

  function invite(u: string) {
    sentTo.current.add(u);
    actions.invite(room, u);
  }

  return (
    <Dialog
      title={`Invite people to #${room}`}
      subtitle="They see the invitation at once and can accept or decline it."
      testId="invite-dialog"
      onClose={onClose}
    >
      <div className="dialog-body">
        <UserSearch
          search={state.userSearch}
          me={state.me}
          label="Find people"
          placeholder="Search by username"
          onSearch={(p) => actions.searchUsers(p)}
          action={(u) => {
            const st = state.actions[actionKey("invite", room, u)];
            if (isMember(u)) return <span className="result-state">Member</span>;
            if (inList(roster?.banned, u)) return <span className="result-state danger">Banned</span>;
            if (st?.done || inList(roster?.invited, u)) {
              return (
                <span className="result-state ok" data-testid="invite-sent">
                  ✓ Invited
                </span>
              );
            }
            return (
              <button
                type="button"
                className="btn btn-small btn-primary"
                data-testid="invite-user"
                disabled={st?.pending === true}
                onClick={() => invite(u)}
              >
                {st?.pending ? "Inviting…" : "Invite"}
              </button>
            );
          }}
        />
        {errors.map(({ u, e }) => (
          <DialogError key={u} text={`${u}: ${e}`} testId="invite-error" />
        ))}
      </div>
      <div className="dialog-actions">
        <button className="btn btn-secondary" type="button" data-testid="invite-done" onClick={onClose}>
          Done
        </button>
      </div>
    </Dialog>
  );
}
