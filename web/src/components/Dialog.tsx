import { useEffect, useId, useLayoutEffect, useRef, type ReactNode } from "react";

interface Props {
  title: string;
  /** A line under the title. */
  subtitle?: ReactNode;
  testId: string;
  onClose: () => void;
  children: ReactNode;
}

/**
 * A modal dialog on the native <dialog> element: the browser keeps focus
 * inside it, closes it on Escape (its "cancel" event) and puts the rest of the
 * page behind a backdrop. A click on the backdrop closes it too.
 */
export function Dialog({ title, subtitle, testId, onClose, children }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const close = useRef(onClose);
  useLayoutEffect(() => {
    close.current = onClose;
  });

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (!d.open) d.showModal();
    const onCancel = (e: Event) => {
      e.preventDefault();
      close.current();
    };
    d.addEventListener("cancel", onCancel);
    return () => {
      d.removeEventListener("cancel", onCancel);
      if (d.open) d.close();
    };
  }, []);

  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      data-testid={testId}
      onMouseDown={(e) => {
        // The dialog box fills its element: a press on the element itself is on the backdrop.
        if (e.target === ref.current) close.current();
      }}
    >
      <div className="dialog-box">
        <div className="dialog-head">
          <div className="dialog-titles">
            <h2 className="dialog-title" id={titleId}>
              {title}
            </h2>
            {subtitle && <p className="dialog-subtitle muted">{subtitle}</p>}
          </div>
          <button className="icon-btn dialog-close" type="button" aria-label="Close" data-testid="dialog-close" onClick={() => close.current()}>
            <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
              <path d="M6 6l12 12M18 6 6 18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
            </svg>
          </button>
        </div>
        {children}
      </div>
    </dialog>
  );
}

/** An error line inside a dialog (the server's message or a client check). */
export function DialogError({ text, testId }: { text: string; testId: string }) {
  if (!text) return null;
  return (
    <p className="dialog-error" role="alert" data-testid={testId}>
      {text[0].toUpperCase() + text.slice(1)}
    </p>
  );
}
