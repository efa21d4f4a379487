// A man in the middle of a page's WebSocket, for states too short to see otherwise.

/**
 * Puts a man in the middle of the page's WebSocket (Playwright routeWebSocket):
 * frames from the server can be held back and released, and a connection can
 * be dropped, to observe states that are otherwise too short to see.
 * Call it before the page opens its socket (on the login screen): the page is
 * reloaded once so the route covers it.
 */
export async function interceptSocket(page) {
  const ctl = { hold: false, conns: [] };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    const conn = { ws, server, held: [], closed: false };
    ctl.conns.push(conn);
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      if (ctl.hold) conn.held.push(m);
      else ws.send(m);
    });
    ws.onClose((code, reason) => {
      conn.closed = true;
      server.close({ code, reason });
    });
    server.onClose((code, reason) => {
      conn.closed = true;
      ws.close({ code, reason });
    });
  });
  // playwright-core 1.61 (the last that runs on Node 18) patches WebSocket only in
  // documents loaded after routeWebSocket; later versions also patch the open one.
  if (page.url() !== "about:blank") await page.reload();
  ctl.current = () => ctl.conns[ctl.conns.length - 1];
  ctl.release = () => {
    ctl.hold = false;
    for (const c of ctl.conns) {
      if (!c.closed) for (const m of c.held) c.ws.send(m);
      c.held = [];
    }
  };
  /** Sends everything held on the live connection as ONE frame ("\n"-separated, as the bridge batches a backlog). */
  ctl.releaseAsOneFrame = () => {
    ctl.hold = false;
    const c = ctl.current();
    if (c.held.length > 0) c.ws.send(c.held.map((m) => String(m).trim()).join("\n"));
    c.held = [];
  };
  /** Drops the live connection as if the server went away (1012); frames still held are lost. */
  ctl.drop = () => {
    const c = ctl.current();
    c.closed = true;
    c.held = [];
    c.ws.close({ code: 1012, reason: "test drop" });
    c.server.close();
  };
  return ctl;
}

