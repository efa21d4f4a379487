import { useCallback, useEffect, useMemo, useState } from "react";
import { Api, ApiError, type Session } from "../api";
import { AuthScreen } from "./AuthScreen";
import { ChatScreen } from "./ChatScreen";

type Phase =
  | { kind: "loading" }
  | { kind: "auth"; notice: string }
  | { kind: "chat"; session: Session }
  | { kind: "unreachable"; message: string };

export function App() {
  const api = useMemo(() => new Api(), []);
  const [phase, setPhase] = useState<Phase>({ kind: "loading" });

  const checkSession = useCallback(async () => {
    try {
      const s = await api.me();
      setPhase(s ? { kind: "chat", session: s } : { kind: "auth", notice: "" });
    } catch (err) {
      setPhase({ kind: "unreachable", message: err instanceof ApiError ? err.message : "Cannot reach the chat server" });
    }
  }, [api]);

  useEffect(() => {
    void checkSession();
  }, [checkSession]);

  // While the server cannot be reached, keep asking every few seconds.
  useEffect(() => {
    if (phase.kind !== "unreachable") return;
    const t = setTimeout(() => void checkSession(), 3000);
    return () => clearTimeout(t);
  }, [phase, checkSession]);

  const onAuthenticated = useCallback((session: Session) => setPhase({ kind: "chat", session }), []);
  const onSignedOut = useCallback((notice: string) => setPhase({ kind: "auth", notice }), []);

  switch (phase.kind) {
    case "loading":
      return (
        <div className="center-screen" aria-busy="true">
          <div className="spinner" aria-hidden="true" />
          <p className="muted">Loading…</p>
        </div>
      );
    case "unreachable":
      return (
        <div className="center-screen">
          <div className="card" role="alert" data-testid="unreachable">
            <h1 className="card-title">Can’t connect</h1>
            <p>{phase.message}</p>
            <p className="muted">Retrying automatically…</p>
            <button className="btn btn-primary" type="button" onClick={() => void checkSession()}>
              Try again now
            </button>
          </div>
        </div>
      );
    case "auth":
      return <AuthScreen api={api} notice={phase.notice} onAuthenticated={onAuthenticated} />;
    case "chat":
      return <ChatScreen api={api} session={phase.session} onSignedOut={onSignedOut} />;
  }
}
