import { useEffect, useState, type FormEvent } from "react";
import { MAX_TEXT_BYTES, type MembershipActions } from "../client-members";
import type { ChatState } from "../model";
import { isDirect, isPrivate, isPublic, permissions, roomLabel } from "../roles";
import { actionKey } from "../state-members";
import { Dialog, DialogError } from "./Dialog";

interface Props {
  room: string;
  state: ChatState;
  actions: MembershipActions;
  onClose: () => void;
}

const KEYS = (room: string) => ["topic", "archive", "leave", "deleteRoom"].map((k) => actionKey(k, room));

/** A room's settings: topic (moderators), archive and delete (owner), and leaving it. */
export function RoomSettings({ room, state, actions, onClose }: Props) {
  const r = state.rooms[room];
  const info = r?.info ?? null;
  const can = permissions(room, info, state.admin);
  const [topic, setTopic] = useState(info?.topic ?? "");
  const [topicError, setTopicError] = useState("");
  const [confirm, setConfirm] = useState<"" | "leave" | "delete">("");
  const st = (k: string) => state.actions[actionKey(k, room)];

  useEffect(() => {
    for (const k of KEYS(room)) actions.clearAction(k);
    return () => {
      for (const k of KEYS(room)) actions.clearAction(k);
    };
  }, [actions, room]);

  function saveTopic(e: FormEvent) {
    e.preventDefault();
    setTopicError(actions.setTopic(room, topic));
  }

  const kind = isDirect(room, info) ? "Direct message" : isPrivate(info) ? "Private room · only invited people can join" : "Public room · anyone can join";
  const topicChanged = topic.trim() !== (info?.topic ?? "");
  const archived = info?.archived === true;

  return (
    <Dialog title={`${roomLabel(room, info, state.me)} settings`} subtitle={kind} testId="room-settings" onClose={onClose}>
      <div className="dialog-body settings">
        <section className="settings-section">
          <h3 className="settings-title">Topic</h3>
          {can.editTopic ? (
            <form className="inline-form" onSubmit={saveTopic}>
              <input
                data-testid="topic-input"
                aria-label="Topic"
                placeholder="What is this room about?"
                value={topic}
                maxLength={MAX_TEXT_BYTES}
                onChange={(e) => {
                  setTopic(e.target.value);
                  setTopicError("");
                  actions.clearAction(actionKey("topic", room));
                }}
              />
              <button className="btn btn-primary btn-small" type="submit" data-testid="topic-save" disabled={!topicChanged || st("topic")?.pending === true}>
                {st("topic")?.pending ? "Saving…" : "Save"}
              </button>
            </form>
          ) : (
            <p className="settings-text" data-testid="topic-readonly">
              {info?.topic || <span className="muted">No topic.</span>}
            </p>
          )}
          {st("topic")?.done && !topicChanged && (
            <p className="muted small" role="status" data-testid="topic-saved">
              ✓ Saved
            </p>
          )}
          <DialogError text={topicError || st("topic")?.error || ""} testId="topic-error" />
        </section>

        {can.archive && (
          <section className="settings-section">
            <h3 className="settings-title">{archived ? "Archived" : "Archive"}</h3>
            <p className="settings-text muted">
              {archived
                ? "Nobody can send messages here; the history stays readable."
                : "Make the room read-only: its history stays, nobody can send."}
            </p>
            <button
              className="btn btn-secondary btn-small"
              type="button"
              data-testid="archive-toggle"
              disabled={st("archive")?.pending === true}
              onClick={() => actions.setArchived(room, !archived)}
            >
              {archived ? "Unarchive room" : "Archive room"}
            </button>
            <DialogError text={st("archive")?.error ?? ""} testId="archive-error" />
          </section>
        )}

        {can.leave && (
          <section className="settings-section">
            <h3 className="settings-title">Leave</h3>
            <p className="settings-text muted">
              {isPublic(room, info) ? "You can come back at any time." : "You need a new invitation to come back."}
            </p>
            {confirm === "leave" ? (
              <div className="confirm-row">
                <span>Leave {roomLabel(room, info, state.me)}?</span>
                <button className="btn btn-danger btn-small" type="button" data-testid="leave-room-confirm" onClick={() => actions.leaveRoom(room)}>
                  {st("leave")?.pending ? "Leaving…" : "Leave"}
                </button>
                <button className="btn btn-secondary btn-small" type="button" onClick={() => setConfirm("")}>
                  Cancel
                </button>
              </div>
            ) : (
              <button className="btn btn-secondary btn-small" type="button" data-testid="leave-room" onClick={() => setConfirm("leave")}>
                Leave room
              </button>
            )}
            <DialogError text={st("leave")?.error ?? ""} testId="leave-error" />
          </section>
        )}

        {can.deleteRoom && (
          <section className="settings-section danger-zone">
            <h3 className="settings-title">Delete room</h3>
            <p className="settings-text muted">Deletes #{room} and all its messages for everyone. This cannot be undone.</p>
            {confirm === "delete" ? (
              <div className="confirm-row">
                <span>Delete #{room} for good?</span>
                <button className="btn btn-danger btn-small" type="button" data-testid="delete-room-confirm" onClick={() => actions.deleteRoom(room)}>
                  {st("deleteRoom")?.pending ? "Deleting…" : "Delete for everyone"}
                </button>
                <button className="btn btn-secondary btn-small" type="button" onClick={() => setConfirm("")}>
                  Cancel
                </button>
              </div>
            ) : (
              <button className="btn btn-danger-outline btn-small" type="button" data-testid="delete-room" onClick={() => setConfirm("delete")}>
                Delete room…
              </button>
            )}
            <DialogError text={st("deleteRoom")?.error ?? ""} testId="delete-room-error" />
          </section>
        )}
      </div>
      <div className="dialog-actions">
        <button className="btn btn-secondary" type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}

