// The live side of a page: one KefuSocket, the sessions it hears about and
// a Conversation per session.  Both pages use it; they render its state.
//
// Delivery rules: a message is "sending" until its ack, then "sent", then
// "read" once the other side reports a read at or after its seq.  After any
// reconnect every open session is resumed from its last contiguous seq and
// unacknowledged messages are sent again with the same client_msg_id, which
// the server treats as the same message.

import { Conversation, TYPING_SHOWN_MS } from "./conversation.js";
import { randomId } from "./ids.js";
import { KefuSocket } from "./socket.js";

/** Milliseconds between typing frames while the user keeps typing. */
const TYPING_EVERY_MS = 3000;

export class ChatClient {
  /**
   * @param {object} options
   * @param {"customer"|"agent"} options.role
   * @param {(refresh: boolean) => Promise<string>} options.getToken
   * @param {() => void} options.onChange  re-render
   * @param {(event: object) => void} [options.onEvent]  new session/message, errors
   * @param {() => void} [options.onAuthFailed]
   */
  constructor({ role, getToken, onChange, onEvent, onAuthFailed }) {
    this.role = role;
    this.me = null;
    this.sessions = new Map();
    this.conversations = new Map();
    this.state = "offline";
    this.epoch = 0;
    this.everOnline = false;
    this.onChange = onChange;
    this.onEvent = onEvent || (() => {});
    this.typingSent = new Map();
    this.socket = new KefuSocket({
      getToken,
      onFrame: (frame) => this.frame(frame),
      onState: (state) => this.stateChanged(state),
      onAuthFailed,
    });
  }

  start() {
    this.socket.start();
  }

  stop() {
    this.socket.stop();
  }

  conversation(sessionId) {
    let conv = this.conversations.get(sessionId);
    if (!conv) {
      conv = new Conversation(sessionId);
      this.conversations.set(sessionId, conv);
    }
    return conv;
  }

  // -- what the user does --------------------------------------------------

  /** A session learned over HTTP (a new contact, a refresh). */
  upsertSession(session) {
    this.sessionChanged(session);
    this.onChange();
  }

  /** Queue a message; it goes out now or after the next reconnect. */
  send(sessionId, text) {
    const conv = this.conversation(sessionId);
    const clientMsgId = randomId();
    conv.addPending(clientMsgId, text);
    this.socket.send({ type: "send", session_id: sessionId, client_msg_id: clientMsgId, text });
    this.onChange();
  }

  /** Send a failed message again under the same client_msg_id. */
  retry(sessionId, clientMsgId) {
    const conv = this.conversation(sessionId);
    const found = conv.pending.find((p) => p.clientMsgId === clientMsgId);
    if (!found) return;
    found.failed = null;
    this.socket.send({ type: "send", session_id: sessionId, client_msg_id: clientMsgId, text: found.text });
    this.onChange();
  }

  /** Tell the other side everything they wrote so far has been read here. */
  markRead(sessionId) {
    const conv = this.conversations.get(sessionId);
    if (!conv) return;
    const last = conv.lastFromPeer(this.role);
    if (last <= conv.readSent || last <= conv.ownRead) return;
    if (this.socket.send({ type: "read", session_id: sessionId, seq: last })) {
      conv.readSent = last;
      conv.read(last, true);
      this.onChange();
    }
  }

  /** The user is typing; at most one typing frame per few seconds. */
  typing(sessionId) {
    const now = Date.now();
    if (now - (this.typingSent.get(sessionId) || 0) < TYPING_EVERY_MS) return;
    if (this.socket.send({ type: "typing", session_id: sessionId })) {
      this.typingSent.set(sessionId, now);
    }
  }

  // -- what the server says ------------------------------------------------

  frame(frame) {
    const handlers = {
      authenticated: () => this.authenticated(frame),
      session: () => this.sessionChanged(frame.session),
      message: () => this.message(frame.message),
      ack: () => this.conversation(frame.session_id).ack(frame.client_msg_id, frame.seq),
      resumed: () => this.resumed(frame),
      read: () => this.readFrame(frame),
      typing: () => this.typingFrame(frame),
      error: () => this.errorFrame(frame),
    };
    const handler = handlers[frame.type];
    if (handler) {
      handler();
      this.onChange();
    }
  }

  authenticated(frame) {
    // A new connection: resume every open session and resend what was unacked.
    this.me = { role: frame.role, id: frame.id };
    this.epoch += 1;
    const reconnected = this.everOnline;
    this.everOnline = true;
    for (const session of this.sessions.values()) {
      if (session.state !== "closed") this.resume(session.id);
    }
    this.onEvent({ type: "authenticated", reconnected });
  }

  sessionChanged(session) {
    // Keep the newest view of the session and catch up on its messages.
    const before = this.sessions.get(session.id);
    this.sessions.set(session.id, session);
    this.conversation(session.id);
    if (session.state !== "closed" && this.socket.state === "online") {
      this.resume(session.id);
    }
    this.onEvent({ type: "session", session, before });
  }

  resume(sessionId) {
    // Ask for every message after the last contiguous seq, once per connection.
    const conv = this.conversation(sessionId);
    if (conv.resumedEpoch === this.epoch) return;
    conv.resumedEpoch = this.epoch;
    this.socket.send({ type: "resume", session_id: sessionId, after_seq: conv.contiguous });
    for (const p of conv.unacked()) {
      this.socket.send({ type: "send", session_id: sessionId, client_msg_id: p.clientMsgId, text: p.text });
    }
  }

  message(message) {
    const conv = this.conversation(message.session_id);
    const isNew = conv.add(message);
    if (message.sender.role !== this.role) conv.typingUntil = 0;
    if (isNew) this.onEvent({ type: "message", message });
  }

  resumed(frame) {
    // The server holds messages up to last_seq; any gap is fetched again.
    // A few tries only, so a server that keeps a gap cannot loop the page.
    const conv = this.conversation(frame.session_id);
    const gap = frame.last_seq > conv.contiguous;
    if (gap && conv.resumedEpoch === this.epoch && conv.gapRetries < 3) {
      conv.gapRetries += 1;
      conv.resumedEpoch = -1;
      this.resume(frame.session_id);
    } else if (!gap) {
      conv.gapRetries = 0;
    }
  }

  readFrame(frame) {
    const byOwnSide = frame.reader.role === this.role;
    this.conversation(frame.session_id).read(frame.seq, byOwnSide);
  }

  typingFrame(frame) {
    if (frame.sender.role === this.role) return;
    const conv = this.conversation(frame.session_id);
    conv.typingUntil = Date.now() + TYPING_SHOWN_MS;
    // Re-render when the indicator should disappear.
    setTimeout(() => this.onChange(), TYPING_SHOWN_MS + 50);
  }

  errorFrame(frame) {
    if (frame.client_msg_id && frame.session_id) {
      this.conversation(frame.session_id).fail(frame.client_msg_id, frame.message);
    }
    this.onEvent({ type: "error", code: frame.code, message: frame.message, sessionId: frame.session_id });
  }

  stateChanged(state) {
    this.state = state;
    this.onChange();
  }
}
