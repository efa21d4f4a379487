import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { sameUser } from "../messages";
import type { UserSearch as SearchState } from "../model";
import { Avatar } from "./Avatar";

interface Props {
  search: SearchState;
  me: string;
  /** Asks the server for usernames starting with the prefix ("" clears). */
  onSearch: (prefix: string) => void;
  /** What goes at the end of a result's row (a button, a state). */
  action: (user: string) => ReactNode;
  label: string;
  placeholder?: string;
}

/** Typing waits this long before a search goes out (searches are rate-limited per user). */
export const SEARCH_DELAY_MS = 250;

/** A username field that searches as you type, and the list of what it found. */
export function UserSearch({ search, me, onSearch, action, label, placeholder = "Type a username" }: Props) {
  const [text, setText] = useState("");
  const id = useId();
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const searchRef = useRef(onSearch);
  useEffect(() => {
    searchRef.current = onSearch;
  });
  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  function change(value: string) {
    setText(value);
    if (timer.current !== null) clearTimeout(timer.current);
    const p = value.trim();
    timer.current = setTimeout(() => searchRef.current(p), p === "" ? 0 : SEARCH_DELAY_MS);
  }

  const typed = text.trim();
  const current = typed !== "" && search.prefix.toLowerCase() === typed.toLowerCase();
  // While a newer search is on its way, the older results that still fit what is typed.
  const users = typed === "" ? [] : search.users.filter((u) => !sameUser(u, me) && u.toLowerCase().startsWith(typed.toLowerCase()));
  let status = "";
  if (typed !== "") {
    if (search.error) status = "";
    else if (search.pending || !current) status = users.length === 0 ? "Searching…" : "";
    else if (users.length === 0) status = `No one else is called “${typed}…”`;
  }

  return (
    <div className="user-search">
      <label className="field-label" htmlFor={id}>
        {label}
      </label>
      <div className="search-box">
        <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
          <circle cx="11" cy="11" r="6.5" stroke="currentColor" strokeWidth="2" fill="none" />
          <path d="m16 16 4.5 4.5" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
        <input
          id={id}
          type="search"
          data-testid="user-search-input"
          placeholder={placeholder}
          value={text}
          maxLength={32}
          autoComplete="off"
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          autoFocus
          aria-controls={`${id}-results`}
          onChange={(e) => change(e.target.value)}
        />
      </div>
      {search.error && typed !== "" && (
        <p className="dialog-error" role="alert" data-testid="user-search-error">
          {search.error[0].toUpperCase() + search.error.slice(1)}
        </p>
      )}
      <ul className="user-results" id={`${id}-results`} data-testid="user-search-results" aria-busy={search.pending}>
        {users.map((u) => (
          <li key={u} className="user-result" data-testid="user-result" data-user={u}>
            <Avatar name={u} size={28} />
            <span className="user-result-name">{u}</span>
            {action(u)}
          </li>
        ))}
      </ul>
      <p className="muted small user-search-status" aria-live="polite" data-testid="user-search-status">
        {status}
      </p>
    </div>
  );
}
