// A WebSocket to kefu that authenticates, keeps itself alive and reconnects.
//
// The socket knows nothing about sessions: it hands every frame to onFrame
// and reports its state ("connecting", "online", "offline") to onState.

/** Close codes kefu uses (see docs/pages.md). */
export const CLOSE_AUTH_FAILED = 4401;
export const CLOSE_AUTH_TIMEOUT = 4408;

/** Milliseconds between pings while the socket is quiet. */
const PING_EVERY_MS = 20000;
/** Milliseconds to wait for any frame after a ping before giving up. */
const PONG_TIMEOUT_MS = 8000;
/** Reconnect delays grow from the first to the last, with jitter. */
const RETRY_FIRST_MS = 300;
const RETRY_MAX_MS = 8000;

export class KefuSocket {
  /**
   * @param {object} options
   * @param {() => Promise<string>} options.getToken  a token for the auth frame
   * @param {(frame: object) => void} options.onFrame
   * @param {(state: string) => void} options.onState
   * @param {() => void} [options.onAuthFailed]  the token was refused
   * @param {string} [options.url]
   */
  constructor({ getToken, onFrame, onState, onAuthFailed, url }) {
    this.getToken = getToken;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onAuthFailed = onAuthFailed || (() => {});
    this.url = url || defaultUrl();
    this.ws = null;
    this.state = "offline";
    this.stopped = true;
    this.retries = 0;
    this.authFailures = 0;
    this.timers = { retry: 0, ping: 0, pong: 0 };
    this.wake = () => this.reconnectNow();
  }

  /** Connect, and keep reconnecting until stop(). */
  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this.wake);
    this.connect();
  }

  /** Close for good (logout, page leaving). */
  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.wake);
    this.clearTimers();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.setState("offline");
  }

  /** Send a frame now; false when not authenticated (the caller retries later). */
  send(frame) {
    if (this.state !== "online" || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // -- connection life ---------------------------------------------------

  async connect() {
    // Fetch a token first: host apps may mint a fresh one per connection.
    this.setState("connecting");
    let token;
    try {
      token = await this.getToken(this.authFailures > 0);
    } catch {
      this.scheduleRetry();
      return;
    }
    if (this.stopped) return;
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
    ws.onmessage = (event) => this.received(ws, event.data);
    ws.onclose = (event) => this.closed(ws, event.code);
    ws.onerror = () => {}; // onclose follows and decides what to do
  }

  received(ws, data) {
    // Any frame proves the connection is alive.
    if (ws !== this.ws) return;
    this.armPing();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame.type === "authenticated") {
      this.retries = 0;
      this.authFailures = 0;
      this.setState("online");
    }
    if (frame.type !== "pong") this.onFrame(frame);
  }

  closed(ws, code) {
    // Only the current socket's close matters; old ones were replaced.
    if (ws !== this.ws) return;
    this.ws = null;
    this.clearTimers();
    this.setState("offline");
    if (this.stopped) return;
    if (code === CLOSE_AUTH_FAILED) {
      // One retry with a fresh token; after that the user must sign in again.
      this.authFailures += 1;
      if (this.authFailures > 1) {
        this.stopped = true;
        this.onAuthFailed();
        return;
      }
    }
    this.scheduleRetry();
  }

  scheduleRetry() {
    // Exponential backoff with jitter, so a restarted server is not stampeded.
    if (this.stopped) return;
    const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.retries);
    this.retries += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    // The browser says the network is back: skip the remaining backoff.
    if (this.stopped || this.ws) return;
    clearTimeout(this.timers.retry);
    this.retries = 0;
    this.connect();
  }

  // -- keep-alive --------------------------------------------------------

  armPing() {
    // After a quiet spell send a ping; no answer in time means a dead link.
    clearTimeout(this.timers.ping);
    clearTimeout(this.timers.pong);
    this.timers.ping = setTimeout(() => {
      if (!this.send({ type: "ping" })) return;
      this.timers.pong = setTimeout(() => this.drop(), PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  drop() {
    // Give up on a silent socket without waiting for TCP to notice.
    const ws = this.ws;
    if (!ws) return;
    this.closed(ws, 1006);
    ws.close();
  }

  clearTimers() {
    for (const key of Object.keys(this.timers)) clearTimeout(this.timers[key]);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }
}

/** ws(s)://<this page's host>/v1/ws */
function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/v1/ws`;
}
