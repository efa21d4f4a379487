// Pieces the settings sections share: a section frame, a list loaded from an
// account call, a secret shown once with a copy button, a two-step button for
// what cannot be undone, and result/error lines.

import { useCallback, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api";
import { parseTime, sentence } from "../format";

/** The text to show for a failed call. */
export function errorText(err: unknown): string {
  return err instanceof ApiError ? sentence(err.message) : "Something went wrong, try again";
}

/** A date for the lists ("Dec 7, 2026, 6:14 AM"); `empty` when unset. */
export function when(iso: string, empty = "—"): string {
  const d = iso === "" ? null : parseTime(iso);
  if (!d) return iso === "" ? empty : iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function Section({ id, title, intro, children }: { id: string; title: string; intro?: ReactNode; children: ReactNode }) {
  return (
    <section className="settings-section" data-testid={`settings-section-${id}`} aria-labelledby={`settings-h-${id}`}>
      <h2 className="settings-h" id={`settings-h-${id}`}>
        {title}
      </h2>
      {intro && <p className="settings-intro muted">{intro}</p>}
      {children}
    </section>
  );
}

/** An error line (role=alert); nothing when there is no error. */
export function ErrorLine({ text, testId }: { text: string; testId: string }) {
  if (!text) return null;
  return (
    <p className="settings-error" role="alert" data-testid={testId}>
      {sentence(text)}
    </p>
  );
}

/** A success line (role=status). */
export function DoneLine({ text, testId }: { text: string; testId: string }) {
  if (!text) return null;
  return (
    <p className="settings-done" role="status" data-testid={testId}>
      {text}
    </p>
  );
}

export interface Loaded<T> {
  data: T | null;
  error: string;
  loading: boolean;
  reload: () => void;
}

/** Loads with `load` when shown, and again on reload(); the newest answer wins. */
export function useLoaded<T>(load: () => Promise<T>): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const loadRef = useRef(load);
  useLayoutEffect(() => {
    loadRef.current = load;
  });
  const reload = useCallback(() => {
    const mine = ++seq.current;
    setLoading(true);
    loadRef.current().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError("");
        setLoading(false);
      },
      (err: unknown) => {
        if (mine !== seq.current) return;
        setError(errorText(err));
        setLoading(false);
      },
    );
  }, []);
  useEffect(() => {
    reload();
    return () => {
      seq.current += 1;
    };
  }, [reload]);
  return { data, error, loading, reload };
}

/** The state of a list: loading, its error, or "none yet". */
export function ListStatus({ loaded, empty, testId }: { loaded: Loaded<unknown[]>; empty: string; testId: string }) {
  if (loaded.error) return <ErrorLine text={loaded.error} testId={`${testId}-error`} />;
  if (loaded.data === null) {
    return (
      <p className="muted small" aria-busy="true">
        <span className="spinner spinner-small" aria-hidden="true" /> Loading…
      </p>
    );
  }
  if (loaded.data.length === 0) {
    return (
      <p className="muted small settings-empty" data-testid={`${testId}-empty`}>
        {empty}
      </p>
    );
  }
  return null;
}

/**
 * A secret the server shows only once (API token, webhook URL, invite code):
 * the value, a copy button, and the warning that it will not be shown again.
 */
export function SecretBox({ label, value, testId, onDone, children }: { label: string; value: string; testId: string; onDone: () => void; children?: ReactNode }) {
  const [copied, setCopied] = useState<"" | "yes" | "no">("");
  const ref = useRef<HTMLElement>(null);
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("yes");
    } catch {
      // No clipboard (an insecure origin, or permission refused): select it for Ctrl+C.
      const el = ref.current;
      const range = document.createRange();
      if (el) {
        range.selectNodeContents(el);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
      }
      setCopied("no");
    }
  }
  return (
    <div className="secret-box" role="group" aria-label={label} data-testid={`${testId}-box`}>
      <p className="secret-label">{label}</p>
      <div className="secret-row">
        <code className="secret-value" ref={ref} data-testid={testId}>
          {value}
        </code>
        <button className="btn btn-secondary btn-small" type="button" data-testid={`${testId}-copy`} onClick={() => void copy()}>
          {copied === "yes" ? "Copied" : "Copy"}
        </button>
      </div>
      {copied === "no" && <p className="small muted">Could not copy by itself: it is selected, press Ctrl+C (⌘C).</p>}
      {children}
      <p className="secret-warning" data-testid={`${testId}-warning`}>
        Copy it now: you will not see it again. Only a hash of it is stored.
      </p>
      <button className="btn btn-primary btn-small" type="button" data-testid={`${testId}-done`} onClick={onDone}>
        I have copied it
      </button>
    </div>
  );
}

/** A button that asks once more before doing what cannot be undone. */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  testId,
  onConfirm,
  disabled,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  testId: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button className="btn btn-danger-outline btn-small" type="button" data-testid={testId} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm-inline" role="group" aria-label={question}>
      <span className="small">{question}</span>
      <button className="btn btn-secondary btn-small" type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
      <button
        className="btn btn-danger btn-small"
        type="button"
        data-testid={`${testId}-confirm`}
        disabled={disabled}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
    </span>
  );
}
