import { useEffect, useRef, useState, type ReactNode } from "react";

interface Props {
  /** The trigger's accessible name ("Actions for bob"). */
  label: string;
  testId: string;
  /** The trigger's face (an icon). */
  face: ReactNode;
  className?: string;
  /** The menu; `close` shuts it (after an item did its work). */
  children: (close: () => void) => ReactNode;
  /** Which side of the trigger the menu lines up with. */
  align?: "left" | "right";
  /** Open above the trigger (near the bottom of a scrolling list, where below would be cut off). */
  up?: boolean;
}

/**
 * A small menu behind a button: opens on click, closes on a click elsewhere,
 * on Escape (focus goes back to the trigger), or when an item says so.
 */
export function Popover({ label, testId, face, className = "", children, align = "right", up = false }: Props) {
  const [open, setOpen] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const trigger = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        setOpen(false);
        trigger.current?.focus();
      }
    };
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey, true);
    // Focus the first item, for keyboards.
    box.current?.querySelector<HTMLElement>('[role="menu"] button, [role="menu"] input')?.focus();
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey, true);
    };
  }, [open]);

  return (
    <div className={`popover ${className}${open ? " open" : ""}`} ref={box}>
      <button
        ref={trigger}
        type="button"
        className="icon-btn popover-trigger"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        data-testid={testId}
        onClick={() => setOpen((v) => !v)}
      >
        {face}
      </button>
      {open && (
        <div className={`popover-menu align-${align}${up ? " up" : ""}`} role="menu" aria-label={label}>
          {children(() => setOpen(false))}
        </div>
      )}
    </div>
  );
}

export function DotsIcon() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
      <circle cx="5" cy="12" r="1.8" fill="currentColor" />
      <circle cx="12" cy="12" r="1.8" fill="currentColor" />
      <circle cx="19" cy="12" r="1.8" fill="currentColor" />
    </svg>
  );
}
