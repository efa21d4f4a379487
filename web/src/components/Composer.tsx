import { useId, useImperativeHandle, useLayoutEffect, useRef, useState, type KeyboardEvent, type Ref } from "react";

export interface ComposerHandle {
  focus: () => void;
}

interface Props {
  ref?: Ref<ComposerHandle>;
  room: string;
  /** How the room is named in the placeholder: "#dev", or a direct room's other users. */
  label: string;
  /** Sending is off here (an archived room): this says why, in place of the box's placeholder. */
  readOnly?: string;
  /** Returns false when there was nothing to send. */
  onSend: (text: string) => boolean;
  onActivity: () => void;
  onIdle: () => void;
}

const MAX_HEIGHT = 180;

/** The message box: Enter sends, Shift+Enter adds a line. Keeps a draft per room. */
export function Composer({ ref, room, label, readOnly = "", onSend, onActivity, onIdle }: Props) {
  const drafts = useRef(new Map<string, string>());
  const [text, setText] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);
  const hintId = useId();

  useImperativeHandle(ref, () => ({ focus: () => area.current?.focus() }), []);

  // Switch drafts with the room, before the browser paints: with a passive
  // effect the new room showed the old room's draft for a frame (and a test
  // reading the box in between saw it).
  const shownRoom = useRef(room);
  useLayoutEffect(() => {
    if (shownRoom.current === room) return;
    drafts.current.set(shownRoom.current, area.current?.value ?? "");
    shownRoom.current = room;
    setText(drafts.current.get(room) ?? "");
  }, [room]);

  // Grow with the text up to a limit.
  useLayoutEffect(() => {
    const el = area.current;
    if (!el) return;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT)}px`;
  }, [text]);

  function send() {
    if (readOnly) return;
    if (onSend(text)) {
      setText("");
      drafts.current.delete(room);
    }
    area.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  }

  return (
    <>
    {readOnly && (
      <p className="composer-note" role="status" data-testid="archived-note">
        <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
          <path d="M4 5h16v4H4zM6 9h12v10H6z" stroke="currentColor" strokeWidth="1.8" fill="none" strokeLinejoin="round" />
          <path d="M10 13h4" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
        </svg>
        {readOnly}
      </p>
    )}
    <form
      className={`composer${readOnly ? " read-only" : ""}`}
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label className="sr-only" htmlFor={`${hintId}-input`}>
        Message {label}
      </label>
      <textarea
        ref={area}
        id={`${hintId}-input`}
        data-testid="composer"
        rows={1}
        placeholder={readOnly ? "Read-only" : `Message ${label}`}
        value={text}
        disabled={readOnly !== ""}
        aria-describedby={hintId}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() !== "") onActivity();
          else onIdle();
        }}
        onKeyDown={onKeyDown}
        onBlur={() => {
          if (text.trim() === "") onIdle();
        }}
      />
      <span id={hintId} className="sr-only">
        Enter sends, Shift+Enter adds a new line.
      </span>
      <button className="send-btn" type="submit" data-testid="send-button" aria-label="Send message" disabled={readOnly !== "" || text.trim() === ""}>
        <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path d="M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z" fill="currentColor" />
        </svg>
      </button>
    </form>
    </>
  );
}
