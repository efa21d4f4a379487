// Settings: the account's login sessions (when, from where, with what
// client; revoke one or all others) and registration invite codes.

import { useState } from "react";
import type { AccountApi } from "../account-api";
import { INVITE_VALIDITY, describeClient, sessionsEndedText } from "../settings-forms";
import { ConfirmButton, DoneLine, ErrorLine, ListStatus, SecretBox, Section, errorText, useLoaded, when } from "./SettingsParts";

interface SessionsProps {
  account: AccountApi;
  /** The expiry the live connection last learnt (SessionRenewed), "" if none. */
  renewedUntil: string;
}

export function SessionsSection({ account, renewedUntil }: SessionsProps) {
  const sessions = useLoaded(() => account.listSessions());
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function revoke(id: string) {
    setBusy(id || "others");
    setError("");
    setDone("");
    try {
      if (id === "") {
        setDone(sessionsEndedText(await account.revokeOtherSessions()));
      } else {
        await account.revokeSession(id);
        setDone("The session was signed out.");
      }
    } catch (err) {
      setError(errorText(err));
    }
    setBusy("");
    sessions.reload();
  }

  // This browser first, then the most recently active.
  const list = (sessions.data ?? []).slice().sort((a, b) => Number(b.current) - Number(a.current) || (a.lastUsedAt < b.lastUsedAt ? 1 : -1));
  const others = list.filter((s) => !s.current).length;
  return (
    <Section
      id="sessions"
      title="Sessions"
      intro="Where your account is signed in. A session stays alive while it is used, up to its latest end; one left alone expires."
    >
      <ListStatus loaded={sessions} empty="No sessions." testId="sessions" />
      {list.length > 0 && (
        <ul className="settings-list" data-testid="session-list">
          {list.map((s) => {
            // The live connection may know of a renewal newer than the list.
            const expires = s.current && renewedUntil > s.expiresAt ? renewedUntil : s.expiresAt;
            return (
              <li className="settings-item" key={s.id} data-testid="session-item" data-id={s.id} data-current={s.current || undefined}>
                <div className="settings-item-main">
                  <p className="settings-item-title" title={s.client}>
                    {describeClient(s.client)}
                    {s.current && (
                      <span className="pill pill-accent" data-testid="session-current">
                        This browser
                      </span>
                    )}
                  </p>
                  <p className="settings-item-meta small muted">
                    From {s.peer || "an unknown address"} · signed in {when(s.createdAt)} · last active {when(s.lastUsedAt, "never")}
                  </p>
                  <p className="settings-item-meta small muted">
                    Expires {when(expires)} unless used{s.maxExpiresAt && <> · ends at the latest {when(s.maxExpiresAt)}</>}
                  </p>
                </div>
                {!s.current && (
                  <button
                    className="btn btn-danger-outline btn-small"
                    type="button"
                    data-testid="session-revoke"
                    disabled={busy !== ""}
                    onClick={() => void revoke(s.id)}
                  >
                    {busy === s.id ? "Signing out…" : "Sign out"}
                  </button>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <ErrorLine text={error} testId="sessions-action-error" />
      <DoneLine text={done} testId="sessions-result" />
      {others > 0 && (
        <div className="settings-actions">
          <ConfirmButton
            label="Sign out all other sessions"
            question={`Sign out ${others === 1 ? "the other session" : `all ${others} other sessions`}?`}
            confirmLabel="Sign them out"
            testId="sessions-revoke-others"
            disabled={busy !== ""}
            onConfirm={() => void revoke("")}
          />
        </div>
      )}
    </Section>
  );
}

export function InvitesSection({ account }: { account: AccountApi }) {
  const [validFor, setValidFor] = useState(INVITE_VALIDITY[1].seconds);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [made, setMade] = useState<{ code: string; expiresAt: string } | null>(null);

  async function create() {
    setBusy(true);
    setError("");
    try {
      setMade(await account.createInvite(validFor));
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  }

  return (
    <Section
      id="invites"
      title="Invite codes"
      intro="This server registers people by invitation. An invite code lets one person create an account, once."
    >
      {made ? (
        <SecretBox label="Invite code" value={made.code} testId="invite-code" onDone={() => setMade(null)}>
          <p className="small muted">
            Valid until {when(made.expiresAt)}. Give it to the person you invite: they enter it when they create their account.
          </p>
        </SecretBox>
      ) : (
        <div className="settings-form">
          <label className="field">
            <span className="field-label">Valid for</span>
            <select data-testid="invite-validity" value={validFor} onChange={(e) => setValidFor(Number(e.target.value))}>
              {INVITE_VALIDITY.map((v) => (
                <option key={v.seconds} value={v.seconds}>
                  {v.label}
                </option>
              ))}
            </select>
          </label>
          <ErrorLine text={error} testId="invite-error" />
          <div className="settings-actions">
            <button className="btn btn-primary" type="button" data-testid="invite-create" disabled={busy} onClick={() => void create()}>
              {busy ? "Creating…" : "Create invite code"}
            </button>
          </div>
        </div>
      )}
    </Section>
  );
}
