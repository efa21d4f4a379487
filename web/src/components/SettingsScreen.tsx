// The account settings: a full-screen page on phones, a large panel on
// wider screens, on the native <dialog> (focus stays inside; Escape, the ×
// and "Back to chat" close it). Sections: profile, password, sessions, bots,
// API tokens, webhooks, invite codes (when WhoAmI says the user may invite),
// delete account. Each loads what it shows when it is opened.

import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { AccountApi } from "../account-api";
import type { Api } from "../api";
import type { Profile } from "../protocol";
import { DeleteSection, PasswordSection, ProfileSection } from "./SettingsAccount";
import { BotsSection } from "./SettingsBots";
import { ErrorLine, useLoaded } from "./SettingsParts";
import { InvitesSection, SessionsSection } from "./SettingsSessions";
import { TokensSection } from "./SettingsTokens";
import { WebhooksSection } from "./SettingsWebhooks";

export type SettingsTab = "profile" | "password" | "sessions" | "bots" | "tokens" | "webhooks" | "invites" | "delete";

const TABS: { id: SettingsTab; label: string }[] = [
  { id: "profile", label: "Profile" },
  { id: "password", label: "Password" },
  { id: "sessions", label: "Sessions" },
  { id: "bots", label: "Bots" },
  { id: "tokens", label: "API tokens" },
  { id: "webhooks", label: "Webhooks" },
  { id: "invites", label: "Invite codes" },
  { id: "delete", label: "Delete account" },
];

interface Props {
  api: Api;
  me: string;
  /** Rooms the user knows (offered for webhooks). */
  rooms: string[];
  /** The session's expiry as the live connection last learnt it ("" if none). */
  renewedUntil: string;
  initialTab?: SettingsTab;
  /** Profiles this screen learnt (the user's new display name, a new bot). */
  onProfiles: (profiles: Profile[]) => void;
  onClose: () => void;
  /** The account is gone: back to the login screen. */
  onAccountDeleted: () => void;
}

export function SettingsScreen({ api, me, rooms, renewedUntil, initialTab = "profile", onProfiles, onClose, onAccountDeleted }: Props) {
  const account = useMemo(() => new AccountApi(api), [api]);
  const ref = useRef<HTMLDialogElement>(null);
  const close = useRef(onClose);
  useLayoutEffect(() => {
    close.current = onClose;
  });
  const [tab, setTab] = useState<SettingsTab>(initialTab);
  const info = useLoaded(() => account.whoAmI());
  const bots = useLoaded(() => account.listBots());
  const reloadBots = bots.reload;

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

  // The bot lists of the tokens and webhooks forms follow what the Bots section did.
  useEffect(() => {
    if (tab === "tokens" || tab === "webhooks") reloadBots();
  }, [tab, reloadBots]);

  const onProfile = useCallback((p: Profile) => onProfiles([p]), [onProfiles]);
  const who = info.data;
  const tabs = TABS.filter((t) => t.id !== "invites" || who?.mayInvite);

  return (
    <dialog ref={ref} className="settings-page" aria-labelledby="settings-title" data-testid="settings">
      <header className="settings-top">
        <button className="btn btn-secondary btn-small" type="button" data-testid="settings-back" onClick={() => close.current()}>
          <span aria-hidden="true">←</span> Back to chat
        </button>
        <h1 className="settings-title" id="settings-title">
          Settings
        </h1>
        <span className="settings-who muted small" title={me}>
          {who?.displayName ? `${who.displayName} · @${me}` : me}
        </span>
      </header>
      <div className="settings-layout">
        <nav className="settings-nav" aria-label="Settings sections">
          <ul>
            {tabs.map((t) => (
              <li key={t.id}>
                <button
                  type="button"
                  className={`settings-tab${t.id === tab ? " active" : ""}${t.id === "delete" ? " danger" : ""}`}
                  data-testid={`settings-tab-${t.id}`}
                  aria-current={t.id === tab ? "page" : undefined}
                  onClick={() => setTab(t.id)}
                >
                  {t.label}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <div className="settings-content">
          {info.error && (
            <div className="settings-form">
              <ErrorLine text={`Could not load your account: ${info.error}`} testId="settings-error" />
              <button className="btn btn-secondary btn-small" type="button" onClick={info.reload}>
                Try again
              </button>
            </div>
          )}
          {!who && !info.error && (
            <p className="muted small" aria-busy="true">
              <span className="spinner spinner-small" aria-hidden="true" /> Loading…
            </p>
          )}
          {who && tab === "profile" && <ProfileSection account={account} info={who} onProfile={onProfile} />}
          {who && tab === "password" && <PasswordSection account={account} username={who.username} />}
          {who && tab === "sessions" && <SessionsSection account={account} renewedUntil={renewedUntil} />}
          {who && tab === "bots" && <BotsSection account={account} bots={bots} onBot={onProfile} />}
          {who && tab === "tokens" && <TokensSection account={account} me={who.username} bots={bots} />}
          {who && tab === "webhooks" && (
            <WebhooksSection account={account} bots={bots} rooms={rooms} origin={window.location.origin} onGoToBots={() => setTab("bots")} />
          )}
          {who && tab === "invites" && who.mayInvite && <InvitesSection account={account} />}
          {who && tab === "delete" && <DeleteSection account={account} username={who.username} onDeleted={onAccountDeleted} />}
        </div>
      </div>
    </dialog>
  );
}
