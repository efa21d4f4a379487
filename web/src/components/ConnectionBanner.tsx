import type { ConnectionStatus } from "../model";

interface Props {
  status: ConnectionStatus;
  detail: string;
  everConnected: boolean;
  onRetry: () => void;
}

/** Shown whenever the WebSocket is not open. */
export function ConnectionBanner({ status, detail, everConnected, onRetry }: Props) {
  if (status === "open") return null;
  const text =
    status === "offline"
      ? "Offline"
      : status === "connecting" && !everConnected
        ? "Connecting…"
        : "Reconnecting…";
  return (
    <div className={`banner banner-${status}`} role="status" data-testid="connection-banner" data-state={status}>
      <span className="banner-spinner" aria-hidden="true" />
      <span className="banner-text">
        <strong>{text}</strong>
        {detail && <span className="banner-detail"> {detail}</span>}
      </span>
      {status === "reconnecting" && (
        <button className="link-btn" type="button" onClick={onRetry} data-testid="reconnect-now">
          Retry now
        </button>
      )}
    </div>
  );
}
