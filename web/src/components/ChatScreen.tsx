import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type { Api, Session } from "../api";
import { ChatClient } from "../client";
import { sentence } from "../format";
import { mediaMatches, onMediaChange } from "../media";
import { webSocketUrl, type Profile } from "../protocol";
import { profileOf } from "../state-profiles";
import { NOTHING_SEEN, announcement, typingText, typingUsers, visibleMessages, type AnnouncerSeen } from "../messages";
import { Role } from "../gen/chat/v1/chat_pb";
import { directLabel, effectiveRole, isDirect, roomLabel } from "../roles";
import { directNames, roomNames } from "../state";
import { Composer, type ComposerHandle } from "./Composer";
import { ConnectionBanner } from "./ConnectionBanner";
import { CreateRoomDialog } from "./CreateRoomDialog";
import { DirectDialog } from "./DirectDialog";
import { InviteDialog } from "./InviteDialog";
import { MemberList } from "./MemberList";
import { MessageList } from "./MessageList";
import { RoomHeader } from "./RoomHeader";
import { RoomSettings } from "./RoomSettings";
import { SettingsScreen } from "./SettingsScreen";
import { Sidebar } from "./Sidebar";

interface Props {
  api: Api;
  session: Session;
  onSignedOut: (notice: string) => void;
}

function safeStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

export function ChatScreen({ api, session, onSignedOut }: Props) {
  const [client, setClient] = useState<ChatClient | null>(null);

  useEffect(() => {
    const c = new ChatClient({
      me: session.username,
      admin: session.admin ?? false,
      url: webSocketUrl(window.location),
      storage: safeStorage(),
      checkAuth: async () => {
        try {
          return (await api.me()) ? "ok" : "unauthenticated";
        } catch {
          return "unknown";
        }
      },
      onAuthLost: () => onSignedOut("Your session has ended. Please log in again."),
    });
    c.start();
    setClient(c);
    // A session from /api/login does not say whether the user is a server admin: /api/me does.
    if (session.admin === undefined) {
      api.me().then(
        (me) => {
          if (me?.admin) c.setAdmin(true);
        },
        () => {},
      );
    }
    // Back online, or back to a tab the browser may have frozen: skip the backoff wait.
    const online = () => c.reconnectNow();
    const visible = () => {
      if (document.visibilityState === "visible") c.reconnectNow();
    };
    window.addEventListener("online", online);
    document.addEventListener("visibilitychange", visible);
    return () => {
      window.removeEventListener("online", online);
      document.removeEventListener("visibilitychange", visible);
      c.stop();
    };
  }, [api, session.username, session.admin, onSignedOut]);

  const logout = useCallback(async () => {
    client?.stop();
    let notice = "";
    try {
      await api.logout();
    } catch {
      notice = "Could not reach the server to log out; your session may still be active.";
    }
    onSignedOut(notice);
  }, [api, client, onSignedOut]);

  // DeleteAccount succeeded (the bridge cleared the cookie): straight to the login screen.
  const accountDeleted = useCallback(() => {
    client?.stop();
    onSignedOut("Your account was deleted.");
  }, [client, onSignedOut]);

  if (!client) return null;
  return <ChatView api={api} client={client} me={session.username} onLogout={() => void logout()} onAccountDeleted={accountDeleted} />;
}

interface ViewProps {
  api: Api;
  client: ChatClient;
  me: string;
  onLogout: () => void;
  onAccountDeleted: () => void;
}

const DESKTOP = "(min-width: 768px)";

type DialogState =
  | null
  | { kind: "direct" }
  | { kind: "create"; private: boolean }
  | { kind: "invite"; room: string }
  | { kind: "settings"; room: string };
const WIDE = "(min-width: 1100px)";

function ChatView({ api, client, me, onLogout, onAccountDeleted }: ViewProps) {
  const state = useSyncExternalStore(client.subscribe, client.getState);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [membersOpen, setMembersOpen] = useState(() => mediaMatches(WIDE, window));
  const composerRef = useRef<ComposerHandle>(null);
  const toggleRef = useRef<HTMLButtonElement>(null);
  const sidebarOpenRef = useRef(sidebarOpen);
  useEffect(() => {
    sidebarOpenRef.current = sidebarOpen;
  }, [sidebarOpen]);
  const [dialog, setDialog] = useState<DialogState>(null);
  const [accountOpen, setAccountOpen] = useState(false);
  const closeDialog = useCallback(() => setDialog(null), []);
  const room = state.rooms[state.current];
  const info = room?.info ?? null;
  const label = roomLabel(state.current, info, me);
  const names = roomNames(state);
  const directs = directNames(state, (n) => directLabel(state.rooms[n]?.info ?? null, me));
  const messages = useMemo(() => (room ? visibleMessages(room) : []), [room]);
  const membership = client.membership;

  // A dialog about a room closes when that room is no longer in view (left, deleted, kicked).
  useEffect(() => {
    setDialog((d) => (d && "room" in d && d.room !== state.current ? null : d));
  }, [state.current]);

  // Total unread in the tab title.
  const totalUnread = [...names, ...directs].reduce((n, name) => n + (state.rooms[name]?.unread ?? 0), 0);
  useEffect(() => {
    document.title = `${totalUnread > 0 ? `(${totalUnread}) ` : ""}${label} · Chat`;
  }, [totalUnread, label]);

  // Screen readers: announce new live messages from others in the room in view.
  const [announced, setAnnounced] = useState("");
  const lastSeen = useRef<AnnouncerSeen>(NOTHING_SEEN);
  useEffect(() => {
    if (!room) return;
    const { seen, text } = announcement(lastSeen.current, room, me);
    lastSeen.current = seen;
    if (text) setAnnounced(text);
  }, [room, me]);

  // Crossing a breakpoint (window resized, tablet rotated): the member list is
  // a column on wide screens (shown by default) and an overlay below that
  // (closed, or it would cover the messages); the room drawer only exists on phones.
  useEffect(() => {
    const offWide = onMediaChange(WIDE, (wide) => setMembersOpen(wide), window);
    const offDesktop = onMediaChange(
      DESKTOP,
      (desktop) => {
        if (desktop) setSidebarOpen(false);
      },
      window,
    );
    return () => {
      offWide();
      offDesktop();
    };
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // A dialog closes itself on Escape; what is behind it stays as it is.
      if (document.querySelector("dialog[open]")) return;
      if (e.key === "Escape") {
        if (sidebarOpenRef.current) toggleRef.current?.focus();
        setSidebarOpen(false);
        if (!mediaMatches(WIDE, window)) setMembersOpen(false);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const selectRoom = useCallback(
    (name: string) => {
      client.selectRoom(name);
      setSidebarOpen(false);
      if (mediaMatches(DESKTOP, window)) composerRef.current?.focus();
    },
    [client],
  );

  const loadOlder = useCallback(() => client.loadOlder(), [client]);
  const retry = useCallback((id: string) => client.retry(id), [client]);
  const wantProfiles = useCallback((names: string[]) => client.profiles.want(names), [client]);
  const knowProfiles = useCallback((list: Profile[]) => client.profiles.known(list), [client]);
  // The user's own display name, for the account corner.
  useEffect(() => wantProfiles([me]), [wantProfiles, me]);
  const current = state.current;
  const deleteMessage = useCallback((seq: number) => membership.deleteMessage(current, seq), [membership, current]);
  const moderator = effectiveRole(info, state.admin) >= Role.MODERATOR;

  const typing = room ? typingText(typingUsers(room, Date.now())) : "";
  const memberCount = room ? Math.max(room.memberCount, room.members.length) : 0;

  return (
    <div className={`app${sidebarOpen ? " sidebar-open" : ""}`}>
      <Sidebar
        id="sidebar"
        open={sidebarOpen}
        state={state}
        names={names}
        directs={directs}
        me={me}
        onSelect={selectRoom}
        onCreate={(name) => client.createRoom(name)}
        onClearCreateError={() => client.clearCreateError()}
        onLoadMore={() => client.loadMoreRooms()}
        onLogout={onLogout}
        onClose={() => setSidebarOpen(false)}
        onNewDirect={() => {
          setSidebarOpen(false);
          setDialog({ kind: "direct" });
        }}
        onNewPrivate={() => {
          setSidebarOpen(false);
          setDialog({ kind: "create", private: true });
        }}
        onRespond={(name, accept) => membership.respondInvite(name, accept)}
        displayName={profileOf(state, me)?.displayName ?? ""}
        onSettings={() => {
          setSidebarOpen(false);
          setAccountOpen(true);
        }}
      />
      {sidebarOpen && (
        <button className="scrim" type="button" aria-label="Close room list" tabIndex={-1} onClick={() => setSidebarOpen(false)} />
      )}
      <main className="chat" aria-label={`Room ${state.current}`}>
        <RoomHeader
          name={state.current}
          room={room}
          me={me}
          admin={state.admin}
          toggleRef={toggleRef}
          sidebarOpen={sidebarOpen}
          membersOpen={membersOpen}
          totalUnread={totalUnread}
          memberCount={memberCount}
          onToggleSidebar={() => setSidebarOpen((v) => !v)}
          onToggleMembers={() => setMembersOpen((v) => !v)}
          onInvite={() => setDialog({ kind: "invite", room: state.current })}
          onSettings={() => setDialog({ kind: "settings", room: state.current })}
        />
        <ConnectionBanner
          status={state.connection}
          detail={state.connectionDetail}
          everConnected={state.everConnected}
          onRetry={() => client.reconnectNow()}
        />
        {state.notice && (
          <div className="notice" role="alert" data-testid="notice">
            <span>{sentence(state.notice)}</span>
            <button className="link-btn" type="button" onClick={() => client.dismissNotice()}>
              Dismiss
            </button>
          </div>
        )}
        {state.farewell && (
          <div className="farewell" role="status" data-testid="farewell" data-room={state.farewell.room}>
            <span>{sentence(state.farewell.text)}</span>
            <button className="link-btn" type="button" data-testid="farewell-dismiss" onClick={() => membership.dismissFarewell()}>
              Dismiss
            </button>
          </div>
        )}
        <div className={`chat-body${membersOpen ? " members-open" : ""}`}>
          <div className="chat-main">
            {room && (
              <MessageList
                key={room.name}
                room={room}
                messages={messages}
                me={me}
                onLoadOlder={loadOlder}
                onRetry={retry}
                moderator={moderator}
                onDelete={deleteMessage}
                label={label}
                direct={isDirect(state.current, info)}
                profiles={state.profiles}
                onWantProfiles={wantProfiles}
              />
            )}
            <div className="typing" data-testid="typing-indicator" aria-hidden={typing === ""}>
              {typing && (
                <>
                  <span className="typing-dots" aria-hidden="true">
                    <i />
                    <i />
                    <i />
                  </span>
                  {typing}
                </>
              )}
            </div>
            <Composer
              ref={composerRef}
              room={state.current}
              label={label}
              readOnly={info?.archived ? "This room is archived: its history stays, but nobody can send messages." : ""}
              onSend={(text) => client.sendMessage(text)}
              onActivity={() => client.inputActivity()}
              onIdle={() => client.stopTyping()}
            />
          </div>
          {room && (
            <MemberList
              id="presence"
              room={room}
              me={me}
              admin={state.admin}
              actions={membership}
              status={state.actions}
              onInvite={() => setDialog({ kind: "invite", room: state.current })}
              onClose={() => setMembersOpen(false)}
            />
          )}
        </div>
        <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-announcer">
          {announced}
        </div>
      </main>
      {dialog?.kind === "direct" && <DirectDialog state={state} actions={membership} onClose={closeDialog} />}
      {dialog?.kind === "create" && (
        <CreateRoomDialog state={state} actions={membership} startPrivate={dialog.private} onClose={closeDialog} />
      )}
      {dialog?.kind === "invite" && <InviteDialog room={dialog.room} state={state} actions={membership} onClose={closeDialog} />}
      {dialog?.kind === "settings" && <RoomSettings room={dialog.room} state={state} actions={membership} onClose={closeDialog} />}
      {accountOpen && (
        <SettingsScreen
          api={api}
          me={me}
          rooms={names}
          renewedUntil={state.sessionExpiresAt}
          onProfiles={knowProfiles}
          onClose={() => setAccountOpen(false)}
          onAccountDeleted={onAccountDeleted}
        />
      )}
    </div>
  );
}
