// Settings: the profile (display name), the password, and deleting the account.

import { useState, type FormEvent } from "react";
import type { AccountApi, AccountInfo } from "../account-api";
import type { Profile } from "../protocol";
import { sessionsEndedText, validateDeleteAccount, validateDisplayName, validatePasswordChange } from "../settings-forms";
import { DoneLine, ErrorLine, Section, errorText } from "./SettingsParts";

export function ProfileSection({ account, info, onProfile }: { account: AccountApi; info: AccountInfo; onProfile: (p: Profile) => void }) {
  const [name, setName] = useState(info.displayName);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function save(e: FormEvent) {
    e.preventDefault();
    const value = name.trim();
    const bad = validateDisplayName(value);
    setDone("");
    if (bad) return setError(bad);
    setBusy(true);
    setError("");
    try {
      const p = await account.updateProfile(value);
      onProfile(p);
      setName(p.displayName);
      setDone(p.displayName ? `Saved: others now see you as ${p.displayName}.` : "Saved: your display name is cleared.");
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  }

  return (
    <Section id="profile" title="Profile" intro="Your username is who you are here and cannot change. A display name is shown beside it.">
      <form className="settings-form" onSubmit={(e) => void save(e)} noValidate>
        <div className="field">
          <span className="field-label">Username</span>
          <span className="settings-static" data-testid="profile-username">
            {info.username}
          </span>
        </div>
        <label className="field">
          <span className="field-label">Display name</span>
          <input
            data-testid="profile-display-name"
            value={name}
            maxLength={64}
            placeholder="e.g. Alice Liddell"
            onChange={(e) => {
              setName(e.target.value);
              setDone("");
            }}
          />
          <span className="field-hint">Up to 64 bytes. Leave it empty to show only your username.</span>
        </label>
        <ErrorLine text={error} testId="profile-error" />
        <DoneLine text={done} testId="profile-saved" />
        <div className="settings-actions">
          <button className="btn btn-primary" type="submit" data-testid="profile-save" disabled={busy}>
            {busy ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
    </Section>
  );
}

export function PasswordSection({ account, username }: { account: AccountApi; username: string }) {
  const [oldPw, setOld] = useState("");
  const [newPw, setNew] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function save(e: FormEvent) {
    e.preventDefault();
    const bad = validatePasswordChange(oldPw, newPw, confirm);
    setDone("");
    if (bad) return setError(bad);
    setBusy(true);
    setError("");
    try {
      const ended = await account.changePassword(oldPw, newPw);
      setOld("");
      setNew("");
      setConfirm("");
      setDone(`Password changed. ${sessionsEndedText(ended)}`);
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  }

  return (
    <Section id="password" title="Password" intro="Changing it signs out every other session of your account; this one stays. API tokens keep working.">
      <form className="settings-form" onSubmit={(e) => void save(e)} noValidate>
        {/* For password managers: which account this is. */}
        <input type="text" name="username" autoComplete="username" value={username} readOnly hidden />
        <label className="field">
          <span className="field-label">Current password</span>
          <input data-testid="password-old" type="password" autoComplete="current-password" value={oldPw} onChange={(e) => setOld(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">New password</span>
          <input data-testid="password-new" type="password" autoComplete="new-password" value={newPw} onChange={(e) => setNew(e.target.value)} />
          <span className="field-hint">At least 8 characters</span>
        </label>
        <label className="field">
          <span className="field-label">New password again</span>
          <input data-testid="password-confirm" type="password" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} />
        </label>
        <ErrorLine text={error} testId="password-error" />
        <DoneLine text={done} testId="password-result" />
        <div className="settings-actions">
          <button className="btn btn-primary" type="submit" data-testid="password-save" disabled={busy}>
            {busy ? "Changing…" : "Change password"}
          </button>
        </div>
      </form>
    </Section>
  );
}

export function DeleteSection({ account, username, onDeleted }: { account: AccountApi; username: string; onDeleted: () => void }) {
  const [password, setPassword] = useState("");
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  async function remove(e: FormEvent) {
    e.preventDefault();
    const bad = validateDeleteAccount(password, typed, username);
    if (bad) return setError(bad);
    setBusy(true);
    setError("");
    try {
      await account.deleteAccount(password);
      onDeleted();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  return (
    <Section id="delete" title="Delete account">
      <div className="settings-warning">
        <p>This cannot be undone. Deleting your account:</p>
        <ul>
          <li>signs out every session, and ends every API token, of you and of your bots;</li>
          <li>deletes your bots and webhooks, your password and your display name;</li>
          <li>keeps your messages, shown under “deleted user”;</li>
          <li>keeps the username {username} reserved: nobody can register it again.</li>
        </ul>
      </div>
      <form className="settings-form" onSubmit={(e) => void remove(e)} noValidate>
        <label className="field">
          <span className="field-label">Password</span>
          <input data-testid="delete-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Type your username to confirm</span>
          <input
            data-testid="delete-confirm-name"
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            placeholder={username}
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
        </label>
        <ErrorLine text={error} testId="delete-error" />
        <div className="settings-actions">
          <button className="btn btn-danger" type="submit" data-testid="delete-account" disabled={busy}>
            {busy ? "Deleting…" : "Delete my account"}
          </button>
        </div>
      </form>
    </Section>
  );
}
