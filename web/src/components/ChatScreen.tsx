import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import type { Api, Session } from "../api";
import { ChatClient } from "../client";
import { sentence } from "../format";
import { mediaMatches, onMediaChange } from "../media";
import { webSocketUrl } from "../protocol";
import { NOTHING_SEEN, announcement, typingText, typingUsers, visibleMessages, type AnnouncerSeen } from "../messages";
import { roomNames } from "../state";
import { Composer, type ComposerHandle } from "./Composer";
import { ConnectionBanner } from "./ConnectionBanner";
import { MessageList } from "./MessageList";
import { PresenceList } from "./PresenceList";
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
  }, [api, session.username, onSignedOut]);

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

  if (!client) return null;
  return <ChatView client={client} me={session.username} onLogout={() => void logout()} />;
}

interface ViewProps {
  client: ChatClient;
  me: string;
  onLogout: () => void;
}

const DESKTOP = "(min-width: 768px)";
const WIDE = "(min-width: 1100px)";

function ChatView({ client, me, onLogout }: ViewProps) {
  const state = useSyncExternalStore(client.subscribe, client.getState);
  const [sidebarOpen, setSidebarOpen] = useState(false);
  const [membersOpen, setMembersOpen] = useState(() => mediaMatches(WIDE, window));
  const composerRef = useRef<ComposerHandle>(null);
  const toggleRef = useRef<HTMLButtonElement>(null);
  const sidebarOpenRef = useRef(sidebarOpen);
  useEffect(() => {
    sidebarOpenRef.current = sidebarOpen;
  }, [sidebarOpen]);
  const room = state.rooms[state.current];
  const names = roomNames(state);
  const messages = useMemo(() => (room ? visibleMessages(room) : []), [room]);

  // Total unread in the tab title.
  const totalUnread = names.reduce((n, name) => n + (state.rooms[name]?.unread ?? 0), 0);
  useEffect(() => {
    document.title = `${totalUnread > 0 ? `(${totalUnread}) ` : ""}#${state.current} · Chat`;
  }, [totalUnread, state.current]);

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

  const typing = room ? typingText(typingUsers(room, Date.now())) : "";
  const memberCount = room ? Math.max(room.memberCount, room.members.length) : 0;

  return (
    <div className={`app${sidebarOpen ? " sidebar-open" : ""}`}>
      <Sidebar
        id="sidebar"
        open={sidebarOpen}
        state={state}
        names={names}
        me={me}
        onSelect={selectRoom}
        onCreate={(name) => client.createRoom(name)}
        onClearCreateError={() => client.clearCreateError()}
        onLoadMore={() => client.loadMoreRooms()}
        onLogout={onLogout}
        onClose={() => setSidebarOpen(false)}
      />
      {sidebarOpen && (
        <button className="scrim" type="button" aria-label="Close room list" tabIndex={-1} onClick={() => setSidebarOpen(false)} />
      )}
      <main className="chat" aria-label={`Room ${state.current}`}>
        <header className="chat-header">
          <button
            ref={toggleRef}
            className="icon-btn sidebar-toggle"
            type="button"
            data-testid="sidebar-toggle"
            aria-label="Show rooms"
            aria-controls="sidebar"
            aria-expanded={sidebarOpen}
            onClick={() => setSidebarOpen((v) => !v)}
          >
            <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
              <path d="M3 6h18M3 12h18M3 18h18" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
            </svg>
            {totalUnread > 0 && <span className="dot" aria-hidden="true" />}
          </button>
          <h2 className="chat-title" data-testid="room-title">
            <span className="hash" aria-hidden="true">
              #
            </span>
            {state.current}
          </h2>
          <button
            className="members-btn"
            type="button"
            data-testid="members-toggle"
            aria-controls="presence"
            aria-expanded={membersOpen}
            onClick={() => setMembersOpen((v) => !v)}
            title="Members"
          >
            <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
              <path
                d="M16 11a3 3 0 1 0-3-3 3 3 0 0 0 3 3Zm-8 0a3 3 0 1 0-3-3 3 3 0 0 0 3 3Zm0 2c-2.7 0-6 1.3-6 3.5V19h12v-2.5C14 14.3 10.7 13 8 13Zm8 0c-.3 0-.7 0-1.1.1A4.3 4.3 0 0 1 16 16.5V19h6v-2.5c0-2.2-3.3-3.5-6-3.5Z"
                fill="currentColor"
              />
            </svg>
            <span data-testid="member-count">{memberCount}</span>
            <span className="sr-only"> members online</span>
          </button>
        </header>
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
              onSend={(text) => client.sendMessage(text)}
              onActivity={() => client.inputActivity()}
              onIdle={() => client.stopTyping()}
            />
          </div>
          {room && <PresenceList id="presence" room={room} me={me} onClose={() => setMembersOpen(false)} />}
        </div>
        <div className="sr-only" aria-live="polite" aria-atomic="true" data-testid="live-announcer">
          {announced}
        </div>
      </main>
    </div>
  );
}
