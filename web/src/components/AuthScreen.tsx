import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError, validateInviteCode, validatePassword, validateUsername, type Api, type RegistrationMode, type Session } from "../api";
import { sentence } from "../format";

interface Props {
  api: Api;
  notice: string;
  onAuthenticated: (s: Session) => void;
}

export function AuthScreen({ api, notice, onAuthenticated }: Props) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState<"" | "login" | "register">("");
  const [inviteCode, setInviteCode] = useState("");
  // Who may register (GET /api/info); "open" until it says otherwise.
  const [mode, setMode] = useState<RegistrationMode>("open");
  const userRef = useRef<HTMLInputElement>(null);
  const passRef = useRef<HTMLInputElement>(null);
  const codeRef = useRef<HTMLInputElement>(null);
  const id = useId();

  useEffect(() => {
    let live = true;
    api.info().then(
      (i) => {
        if (live) setMode(i.registration);
      },
      () => {
        /* unknown: offer registration; the server answers for itself */
      },
    );
    return () => {
      live = false;
    };
  }, [api]);

  async function run(kind: "login" | "register") {
    if (busy) return;
    const u = username.trim();
    let problem = "";
    if (kind === "register") {
      problem = validateUsername(u) || validatePassword(password) || (mode === "invite" ? validateInviteCode(inviteCode) : "");
    } else if (u === "" || password === "") {
      problem = "Enter your username and password";
    }
    if (problem) {
      setError(problem);
      if (u === "" || (kind === "register" && validateUsername(u) !== "")) userRef.current?.focus();
      else if (kind === "register" && validatePassword(password) === "") codeRef.current?.focus();
      else passRef.current?.focus();
      return;
    }
    setBusy(kind);
    setError("");
    try {
      const s = kind === "login" ? await api.login(u, password) : await api.register(u, password, mode === "invite" ? inviteCode.trim() : "");
      onAuthenticated({ ...s, username: s.username || u });
    } catch (err) {
      setError(err instanceof ApiError ? sentence(err.message) : "Something went wrong, try again");
      setBusy("");
    }
  }

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    void run("login");
  }

  return (
    <main className="center-screen auth-screen">
      <form className="card auth-card" onSubmit={onSubmit} data-testid="login-form" aria-labelledby={`${id}-title`} noValidate>
        <div className="auth-logo" aria-hidden="true">
          <svg viewBox="0 0 32 32" width="40" height="40">
            <rect width="32" height="32" rx="9" fill="currentColor" />
            <path d="M8 10h16v9H14l-4 4v-4H8z" fill="#fff" />
          </svg>
        </div>
        <h1 className="card-title" id={`${id}-title`}>
          Welcome to Chat
        </h1>
        <p className="muted auth-sub" data-testid="auth-sub">
          {mode === "closed"
            ? "Log in with your username and password."
            : mode === "invite"
              ? "Log in, or create an account with the invite code you were given."
              : "Log in, or pick a username and password to create an account."}
        </p>
        {notice && (
          <p className="auth-notice" role="status" data-testid="auth-notice">
            {notice}
          </p>
        )}
        <label className="field">
          <span className="field-label">Username</span>
          <input
            ref={userRef}
            data-testid="login-username"
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            maxLength={32}
            value={username}
            onChange={(e) => setUsername(e.target.value)}
            aria-invalid={error !== "" && username.trim() === "" ? true : undefined}
            aria-describedby={`${id}-uhint`}
            autoFocus
          />
          <span className="field-hint" id={`${id}-uhint`}>
            3–32 letters, digits, _ . or -
          </span>
        </label>
        <label className="field">
          <span className="field-label">Password</span>
          <input
            ref={passRef}
            data-testid="login-password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby={`${id}-phint`}
          />
          <span className="field-hint" id={`${id}-phint`}>
            At least 8 characters
          </span>
        </label>
        {mode === "invite" && (
          <label className="field">
            <span className="field-label">Invite code (to create an account)</span>
            <input
              ref={codeRef}
              data-testid="invite-code-input"
              name="invite-code"
              autoComplete="off"
              autoCapitalize="none"
              autoCorrect="off"
              spellCheck={false}
              value={inviteCode}
              onChange={(e) => setInviteCode(e.target.value)}
              aria-describedby={`${id}-ihint`}
            />
            <span className="field-hint" id={`${id}-ihint`}>
              This server registers by invitation: ask an admin or a member for a code. Not needed to log in.
            </span>
          </label>
        )}
        <div className="auth-error-slot" aria-live="assertive">
          {error && (
            <p className="auth-error" role="alert" data-testid="auth-error">
              {error}
            </p>
          )}
        </div>
        <div className="auth-actions">
          <button className="btn btn-primary" type="submit" data-testid="login-submit" disabled={busy !== ""}>
            {busy === "login" ? "Logging in…" : "Log in"}
          </button>
          {mode !== "closed" && (
            <button
              className="btn btn-secondary"
              type="button"
              data-testid="register-submit"
              disabled={busy !== ""}
              onClick={() => void run("register")}
            >
              {busy === "register" ? "Creating account…" : "Create account"}
            </button>
          )}
        </div>
        {mode === "closed" && (
          <p className="muted small auth-closed" data-testid="registration-closed">
            Registration is closed on this server: new accounts are made by its administrators.
          </p>
        )}
      </form>
    </main>
  );
}
