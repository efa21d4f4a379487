import { useEffect, useId, useState, type FormEvent } from "react";
import type { MembershipActions } from "../client-members";
import { MAX_TEXT_BYTES } from "../client-members";
import type { ChatState } from "../model";
import { Dialog, DialogError } from "./Dialog";

interface Props {
  state: ChatState;
  actions: MembershipActions;
  /** Private is picked when the dialog opens. */
  startPrivate: boolean;
  onClose: () => void;
}

/** A new room: its name, an optional topic, and who may see it. */
export function CreateRoomDialog({ state, actions, startPrivate, onClose }: Props) {
  const [name, setName] = useState("");
  const [topic, setTopic] = useState("");
  const [isPrivate, setPrivate] = useState(startPrivate);
  const [localError, setLocalError] = useState("");
  const id = useId();
  const status = state.actions.createRoom;

  useEffect(() => {
    actions.clearAction("createRoom");
    return () => actions.clearAction("createRoom");
  }, [actions]);

  useEffect(() => {
    if (status?.done) onClose();
  }, [status?.done, onClose]);

  function submit(e: FormEvent) {
    e.preventDefault();
    setLocalError(actions.createRoom(name.trim().toLowerCase(), topic, isPrivate));
  }

  const error = localError || status?.error || "";
  return (
    <Dialog title={isPrivate ? "New private room" : "New room"} testId="create-room-dialog" onClose={onClose}>
      <form onSubmit={submit}>
        <div className="dialog-body">
          <label className="field">
            <span className="field-label">Name</span>
            <input
              data-testid="new-room-name"
              placeholder="e.g. release-planning"
              value={name}
              maxLength={64}
              autoCapitalize="none"
              autoCorrect="off"
              spellCheck={false}
              autoFocus
              aria-describedby={`${id}-nhint`}
              onChange={(e) => {
                setName(e.target.value);
                setLocalError("");
              }}
            />
            <span className="field-hint" id={`${id}-nhint`}>
              1–64 of a–z, 0–9, . _ or -
            </span>
          </label>
          <label className="field">
            <span className="field-label">
              Topic <span className="muted">(optional)</span>
            </span>
            <input
              data-testid="new-room-topic"
              placeholder="What is this room about?"
              value={topic}
              maxLength={MAX_TEXT_BYTES}
              onChange={(e) => setTopic(e.target.value)}
            />
          </label>
          <fieldset className="choice-group">
            <legend className="field-label">Who can see it</legend>
            <label className={`choice${!isPrivate ? " chosen" : ""}`}>
              <input type="radio" name={`${id}-kind`} checked={!isPrivate} onChange={() => setPrivate(false)} data-testid="new-room-public" />
              <span className="choice-icon" aria-hidden="true">
                #
              </span>
              <span>
                <strong>Public</strong>
                <span className="muted small choice-text">Listed for everyone; anyone can join.</span>
              </span>
            </label>
            <label className={`choice${isPrivate ? " chosen" : ""}`}>
              <input type="radio" name={`${id}-kind`} checked={isPrivate} onChange={() => setPrivate(true)} data-testid="new-room-private" />
              <span className="choice-icon" aria-hidden="true">
                <LockIcon />
              </span>
              <span>
                <strong>Private</strong>
                <span className="muted small choice-text">Hidden; only people you invite can join.</span>
              </span>
            </label>
          </fieldset>
          <DialogError text={error} testId="new-room-error" />
        </div>
        <div className="dialog-actions">
          <button className="btn btn-secondary" type="button" onClick={onClose}>
            Cancel
          </button>
          <button className="btn btn-primary" type="submit" data-testid="new-room-submit" disabled={name.trim() === "" || status?.pending === true}>
            {status?.pending ? "Creating…" : "Create room"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function LockIcon({ size = 14 }: { size?: number }) {
  return (
    <svg viewBox="0 0 24 24" width={size} height={size} aria-hidden="true" className="lock-icon">
      <rect x="5" y="11" width="14" height="10" rx="2" fill="currentColor" />
      <path d="M8 11V8a4 4 0 0 1 8 0v3" stroke="currentColor" strokeWidth="2.2" fill="none" />
    </svg>
  );
}
