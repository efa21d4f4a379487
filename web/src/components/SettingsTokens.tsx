// Settings: API tokens of the user and their bots (create with name,
// account, rooms, actions and expiry; the secret shown once; revoke).

import { useState, type FormEvent } from "react";
import type { AccountApi, ApiTokenView } from "../account-api";
import type { TokenAction } from "../gen/chat/v1/chat_pb";
import type { Profile } from "../protocol";
import { EXPIRY_CHOICES, TOKEN_ACTIONS, actionsText, expiryDate, parseRooms, validateTokenForm } from "../settings-forms";
import { ConfirmButton, DoneLine, ErrorLine, ListStatus, SecretBox, Section, errorText, useLoaded, when, type Loaded } from "./SettingsParts";

interface Props {
  account: AccountApi;
  me: string;
  bots: Loaded<Profile[]>;
}

const ALL_ACTIONS = TOKEN_ACTIONS.map((a) => a.action);

export function TokensSection({ account, me, bots }: Props) {
  const tokens = useLoaded(() => account.listApiTokens());
  const [secret, setSecret] = useState<{ secret: string; token: ApiTokenView } | null>(null);
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function revoke(t: ApiTokenView) {
    setBusy(t.id);
    setError("");
    setDone("");
    try {
      const streams = await account.revokeApiToken(t.id);
      setDone(`Token ${t.name} revoked${streams > 0 ? `; ${streams} live connection${streams === 1 ? "" : "s"} ended` : ""}.`);
    } catch (err) {
      setError(errorText(err));
    }
    setBusy("");
    tokens.reload();
  }

  const list = tokens.data ?? [];
  return (
    <Section
      id="tokens"
      title="API tokens"
      intro={
        <>
          For programs: send one as <code>authorization: Bearer …</code> on gRPC calls or the WebSocket. A token may be limited to
          some rooms and actions, and is valid until it expires or is revoked.
        </>
      }
    >
      {secret ? (
        <SecretBox label={`Token “${secret.token.name}” for ${secret.token.account || me}`} value={secret.secret} testId="token-secret" onDone={() => setSecret(null)} />
      ) : (
        <TokenForm
          account={account}
          me={me}
          bots={bots.data ?? []}
          onCreated={(made) => {
            setSecret(made);
            setDone("");
            tokens.reload();
          }}
        />
      )}
      <h3 className="settings-h3">Your tokens and your bots’</h3>
      <ListStatus loaded={tokens} empty="No API tokens." testId="tokens" />
      {list.length > 0 && (
        <ul className="settings-list" data-testid="token-list">
          {list.map((t) => (
            <li className="settings-item" key={t.id} data-testid="token-item" data-id={t.id} data-name={t.name} data-account={t.account}>
              <div className="settings-item-main">
                <p className="settings-item-title">
                  {t.name} <span className="muted">· {t.account}</span>
                </p>
                <p className="settings-item-meta small muted">
                  May {actionsText(t.actions)} in {t.rooms.length === 0 ? "every room it can see" : t.rooms.map((r) => `#${r}`).join(", ")}
                </p>
                <p className="settings-item-meta small muted">
                  Created {when(t.createdAt)} · last used {when(t.lastUsedAt, "never")} · {t.expiresAt ? `expires ${when(t.expiresAt)}` : "never expires"}
                </p>
              </div>
              <ConfirmButton
                label="Revoke"
                question={`Revoke ${t.name}? Programs using it stop at once.`}
                confirmLabel="Revoke"
                testId="token-revoke"
                disabled={busy !== ""}
                onConfirm={() => void revoke(t)}
              />
            </li>
          ))}
        </ul>
      )}
      <ErrorLine text={error} testId="token-action-error" />
      <DoneLine text={done} testId="token-result" />
    </Section>
  );
}

function TokenForm({
  account,
  me,
  bots,
  onCreated,
}: {
  account: AccountApi;
  me: string;
  bots: Profile[];
  onCreated: (made: { secret: string; token: ApiTokenView }) => void;
}) {
  const [name, setName] = useState("");
  const [owner, setOwner] = useState("");
  const [roomsText, setRoomsText] = useState("");
  const [actions, setActions] = useState<TokenAction[]>(ALL_ACTIONS);
  const [days, setDays] = useState(0);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  async function create(e: FormEvent) {
    e.preventDefault();
    const bad = validateTokenForm({ name, roomsText, actions });
    if (bad) return setError(bad);
    setBusy(true);
    setError("");
    try {
      // All three actions: the same as none listed, and it keeps working if more are added.
      const list = actions.length === ALL_ACTIONS.length ? [] : actions;
      const made = await account.createApiToken({
        account: owner,
        name: name.trim(),
        rooms: parseRooms(roomsText).rooms,
        actions: list,
        expiresAt: expiryDate(days, Date.now()),
      });
      setName("");
      setRoomsText("");
      onCreated(made);
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  }

  const toggle = (a: TokenAction) => setActions((cur) => (cur.includes(a) ? cur.filter((x) => x !== a) : [...cur, a].sort()));

  return (
    <form className="settings-form settings-subform" onSubmit={(e) => void create(e)} noValidate>
      <h3 className="settings-h3">New token</h3>
      <div className="settings-grid">
        <label className="field">
          <span className="field-label">Name</span>
          <input data-testid="token-name" value={name} maxLength={64} placeholder="e.g. ci" onChange={(e) => setName(e.target.value)} />
        </label>
        <label className="field">
          <span className="field-label">Acts as</span>
          <select data-testid="token-account" value={owner} onChange={(e) => setOwner(e.target.value)}>
            <option value="">{me} (you)</option>
            {bots.map((b) => (
              <option key={b.username} value={b.username}>
                {b.username} (bot)
              </option>
            ))}
          </select>
        </label>
      </div>
      <label className="field">
        <span className="field-label">Rooms (optional)</span>
        <input
          data-testid="token-rooms"
          value={roomsText}
          autoCapitalize="none"
          spellCheck={false}
          placeholder="every room it can see"
          onChange={(e) => setRoomsText(e.target.value)}
        />
        <span className="field-hint">Room names separated by commas or spaces, to limit the token to them.</span>
      </label>
      <fieldset className="field settings-checks">
        <legend className="field-label">May</legend>
        {TOKEN_ACTIONS.map((a) => (
          <label key={a.name} className="check">
            <input type="checkbox" data-testid={`token-action-${a.name}`} checked={actions.includes(a.action)} onChange={() => toggle(a.action)} />
            <span>
              <strong>{a.name}</strong> <span className="muted small">{a.hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <label className="field">
        <span className="field-label">Expires</span>
        <select data-testid="token-expiry" value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {EXPIRY_CHOICES.map((c) => (
            <option key={c.days} value={c.days}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      <ErrorLine text={error} testId="token-error" />
      <div className="settings-actions">
        <button className="btn btn-primary" type="submit" data-testid="token-create" disabled={busy}>
          {busy ? "Creating…" : "Create token"}
        </button>
      </div>
    </form>
  );
}
