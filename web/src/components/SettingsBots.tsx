// Settings: the user's bot accounts (create, list, delete).

import { useState, type FormEvent } from "react";
import type { AccountApi } from "../account-api";
import { validateUsername } from "../api";
import type { Profile } from "../protocol";
import { validateDisplayName } from "../settings-forms";
import { ConfirmButton, DoneLine, ErrorLine, ListStatus, Section, errorText, when, type Loaded } from "./SettingsParts";

interface Props {
  account: AccountApi;
  /** The user's bots, loaded by the settings screen (the tokens and webhooks forms use them too). */
  bots: Loaded<Profile[]>;
  /** A bot was made: its profile goes into the profile cache. */
  onBot: (p: Profile) => void;
}

export function BotsSection({ account, bots, onBot }: Props) {
  const [name, setName] = useState("");
  const [display, setDisplay] = useState("");
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function create(e: FormEvent) {
    e.preventDefault();
    const n = name.trim();
    const bad = validateUsername(n).replace("Username", "A bot's name") || validateDisplayName(display.trim());
    setDone("");
    if (bad) return setError(bad);
    setBusy("create");
    setError("");
    try {
      const bot = await account.createBot(n, display.trim());
      onBot(bot);
      setName("");
      setDisplay("");
      setDone(`Bot ${bot.username} created. Give it an API token to use it.`);
      bots.reload();
    } catch (err) {
      setError(errorText(err));
    }
    setBusy("");
  }

  async function remove(bot: string) {
    setBusy(bot);
    setError("");
    setDone("");
    try {
      await account.deleteBot(bot);
      setDone(`Bot ${bot} deleted.`);
    } catch (err) {
      setError(errorText(err));
    }
    setBusy("");
    bots.reload();
  }

  const list = bots.data ?? [];
  return (
    <Section
      id="bots"
      title="Bots"
      intro="Bot accounts post on behalf of a service. They have no password and cannot log in: they use API tokens. Their messages carry a bot badge."
    >
      <ListStatus loaded={bots} empty="You have no bots yet." testId="bots" />
      {list.length > 0 && (
        <ul className="settings-list" data-testid="bot-list">
          {list.map((b) => (
            <li className="settings-item" key={b.username} data-testid="bot-item" data-bot={b.username}>
              <div className="settings-item-main">
                <p className="settings-item-title">
                  {b.displayName ? (
                    <>
                      {b.displayName} <span className="muted">@{b.username}</span>
                    </>
                  ) : (
                    b.username
                  )}
                  <span className="bot-badge">bot</span>
                </p>
                <p className="settings-item-meta small muted">Created {when(b.createdAt)}</p>
              </div>
              <ConfirmButton
                label="Delete"
                question={`Delete ${b.username}? Its tokens and webhooks stop working.`}
                confirmLabel="Delete bot"
                testId="bot-delete"
                disabled={busy !== ""}
                onConfirm={() => void remove(b.username)}
              />
            </li>
          ))}
        </ul>
      )}
      <form className="settings-form settings-subform" onSubmit={(e) => void create(e)} noValidate>
        <h3 className="settings-h3">New bot</h3>
        <label className="field">
          <span className="field-label">Name</span>
          <input
            data-testid="bot-name"
            value={name}
            maxLength={32}
            autoCapitalize="none"
            autoCorrect="off"
            spellCheck={false}
            placeholder="e.g. deploy.bot"
            onChange={(e) => setName(e.target.value)}
          />
          <span className="field-hint">A username: 3–32 letters, digits, _ . or -</span>
        </label>
        <label className="field">
          <span className="field-label">Display name (optional)</span>
          <input data-testid="bot-display-name" value={display} maxLength={64} onChange={(e) => setDisplay(e.target.value)} />
        </label>
        <ErrorLine text={error} testId="bot-error" />
        <DoneLine text={done} testId="bot-result" />
        <div className="settings-actions">
          <button className="btn btn-primary" type="submit" data-testid="bot-create" disabled={busy !== ""}>
            {busy === "create" ? "Creating…" : "Create bot"}
          </button>
        </div>
      </form>
    </Section>
  );
}
