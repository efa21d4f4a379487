// Settings: incoming webhooks (a room + a bot; the URL with its secret shown
// once, with a curl example; revoke).

import { useId, useState, type FormEvent } from "react";
import type { AccountApi, WebhookView } from "../account-api";
import type { Profile } from "../protocol";
import { curlExample, validateWebhookForm, webhookUrl } from "../settings-forms";
import { ConfirmButton, DoneLine, ErrorLine, ListStatus, SecretBox, Section, errorText, useLoaded, when, type Loaded } from "./SettingsParts";

interface Props {
  account: AccountApi;
  bots: Loaded<Profile[]>;
  /** Rooms the user knows, offered in the room field. */
  rooms: string[];
  /** Where the bridge is (location.origin). */
  origin: string;
  onGoToBots: () => void;
}

export function WebhooksSection({ account, bots, rooms, origin, onGoToBots }: Props) {
  const hooks = useLoaded(() => account.listWebhooks());
  const [made, setMade] = useState<{ webhook: WebhookView; url: string } | null>(null);
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [done, setDone] = useState("");

  async function revoke(h: WebhookView) {
    setBusy(h.id);
    setError("");
    setDone("");
    try {
      await account.revokeWebhook(h.id);
      setDone(`Webhook ${h.name || h.id} revoked.`);
    } catch (err) {
      setError(errorText(err));
    }
    setBusy("");
    hooks.reload();
  }

  const list = hooks.data ?? [];
  const botList = bots.data ?? [];
  return (
    <Section
      id="webhooks"
      title="Webhooks"
      intro="For services that only speak HTTP (CI, monitoring): a POST with a JSON body {“text”: “…”} to the webhook’s URL posts the text into a room, as one of your bots."
    >
      {made ? (
        <SecretBox label={`Webhook URL for #${made.webhook.room}, posting as ${made.webhook.bot}`} value={made.url} testId="webhook-url" onDone={() => setMade(null)}>
          <p className="small muted">The URL holds the secret. Try it:</p>
          <pre className="code-block" data-testid="webhook-curl">
            {curlExample(made.url)}
          </pre>
        </SecretBox>
      ) : bots.data !== null && botList.length === 0 ? (
        <p className="settings-note" data-testid="webhook-needs-bot">
          A webhook posts as one of your bots.{" "}
          <button className="link-btn" type="button" onClick={onGoToBots}>
            Create a bot first
          </button>
        </p>
      ) : (
        <WebhookForm
          account={account}
          bots={botList}
          rooms={rooms}
          onCreated={(w, secret) => {
            setMade({ webhook: w, url: webhookUrl(origin, w.id, secret) });
            setDone("");
            hooks.reload();
          }}
        />
      )}
      <h3 className="settings-h3">Your webhooks</h3>
      <ListStatus loaded={hooks} empty="No webhooks." testId="webhooks" />
      {list.length > 0 && (
        <ul className="settings-list" data-testid="webhook-list">
          {list.map((h) => (
            <li className="settings-item" key={h.id} data-testid="webhook-item" data-id={h.id} data-room={h.room}>
              <div className="settings-item-main">
                <p className="settings-item-title">
                  {h.name || h.id} <span className="muted">· #{h.room}</span>
                </p>
                <p className="settings-item-meta small muted">
                  Posts as {h.bot} · created {when(h.createdAt)} · id {h.id}
                </p>
              </div>
              <ConfirmButton
                label="Revoke"
                question="Revoke it? Its URL stops working."
                confirmLabel="Revoke"
                testId="webhook-revoke"
                disabled={busy !== ""}
                onConfirm={() => void revoke(h)}
              />
            </li>
          ))}
        </ul>
      )}
      <ErrorLine text={error} testId="webhook-action-error" />
      <DoneLine text={done} testId="webhook-result" />
    </Section>
  );
}

function WebhookForm({
  account,
  bots,
  rooms,
  onCreated,
}: {
  account: AccountApi;
  bots: Profile[];
  rooms: string[];
  onCreated: (w: WebhookView, secret: string) => void;
}) {
  const listId = useId();
  const [room, setRoom] = useState("");
  const [bot, setBot] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const chosenBot = bot || bots[0]?.username || "";

  async function create(e: FormEvent) {
    e.preventDefault();
    const bad = validateWebhookForm(room, chosenBot, name);
    if (bad) return setError(bad);
    setBusy(true);
    setError("");
    try {
      const r = await account.createWebhook(room.replace(/^#/, "").trim(), chosenBot, name.trim());
      setRoom("");
      setName("");
      onCreated(r.webhook, r.secret);
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  }

  return (
    <form className="settings-form settings-subform" onSubmit={(e) => void create(e)} noValidate>
      <h3 className="settings-h3">New webhook</h3>
      <div className="settings-grid">
        <label className="field">
          <span className="field-label">Room</span>
          <input
            data-testid="webhook-room"
            list={listId}
            value={room}
            autoCapitalize="none"
            spellCheck={false}
            placeholder="e.g. deploys"
            onChange={(e) => setRoom(e.target.value)}
          />
          <datalist id={listId}>
            {rooms.map((r) => (
              <option key={r} value={r} />
            ))}
          </datalist>
        </label>
        <label className="field">
          <span className="field-label">Posts as</span>
          <select data-testid="webhook-bot" value={chosenBot} onChange={(e) => setBot(e.target.value)}>
            {bots.map((b) => (
              <option key={b.username} value={b.username}>
                {b.username}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label className="field">
        <span className="field-label">Name (optional)</span>
        <input data-testid="webhook-name" value={name} maxLength={64} placeholder="e.g. CI alerts" onChange={(e) => setName(e.target.value)} />
        <span className="field-hint">In a private room, the bot must be a member (invite it first).</span>
      </label>
      <ErrorLine text={error} testId="webhook-error" />
      <div className="settings-actions">
        <button className="btn btn-primary" type="submit" data-testid="webhook-create" disabled={busy}>
          {busy ? "Creating…" : "Create webhook"}
        </button>
      </div>
    </form>
  );
}
