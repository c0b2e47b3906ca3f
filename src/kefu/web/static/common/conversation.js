// One session's messages as a client sees them: ordered and deduplicated by
// seq, plus the sender's own messages still waiting for their ack.
//
// Plain data and functions without I/O, so the rules are easy to follow.

/** Milliseconds a typing indicator stays up after the last typing frame. */
export const TYPING_SHOWN_MS = 6000;

export class Conversation {
  constructor(sessionId) {
    this.sessionId = sessionId;
    /** Durable messages by seq; seq decides order and identity. */
    this.bySeq = new Map();
    /** Highest seq up to which every message is held (used for resume). */
    this.contiguous = 0;
    /** Own messages not yet seen with a seq: {clientMsgId, text, seq, failed}. */
    this.pending = [];
    /** Highest seq the other side has read; highest seq this side has read. */
    this.peerRead = 0;
    this.ownRead = 0;
    /** Highest seq this device has reported read (avoids repeats). */
    this.readSent = 0;
    /** Until when (ms since epoch) the other side counts as typing. */
    this.typingUntil = 0;
    /** The connection epoch in which this session was last resumed. */
    this.resumedEpoch = -1;
    /** Resumes asked again because the server reported a gap. */
    this.gapRetries = 0;
  }

  /** Add a message frame's message; false when its seq was already held. */
  add(message) {
    if (this.bySeq.has(message.seq)) return false;
    this.bySeq.set(message.seq, message);
    while (this.bySeq.has(this.contiguous + 1)) this.contiguous += 1;
    // The durable copy replaces the pending bubble of the same client_msg_id.
    if (message.client_msg_id) {
      this.pending = this.pending.filter(
        (p) => p.clientMsgId !== message.client_msg_id,
      );
    }
    return true;
  }

  /** Own message sent, waiting for its ack. */
  addPending(clientMsgId, text) {
    this.pending.push({ clientMsgId, text, seq: null, failed: null });
  }

  /** The server made a pending message durable under ``seq``. */
  ack(clientMsgId, seq) {
    const found = this.pending.find((p) => p.clientMsgId === clientMsgId);
    if (found) found.seq = seq;
  }

  /** The server refused a pending message. */
  fail(clientMsgId, reason) {
    const found = this.pending.find((p) => p.clientMsgId === clientMsgId);
    if (found) found.failed = reason || "error";
  }

  /** Pending messages that still need a send frame (not acked, not failed). */
  unacked() {
    return this.pending.filter((p) => p.seq === null && !p.failed);
  }

  /** Durable messages in seq order, then the pending ones in send order. */
  timeline() {
    const durable = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    const waiting = this.pending.filter((p) => !this.bySeq.has(p.seq));
    return { durable, waiting };
  }

  /** Record a read frame from either side. */
  read(seq, byOwnSide) {
    if (byOwnSide) this.ownRead = Math.max(this.ownRead, seq);
    else this.peerRead = Math.max(this.peerRead, seq);
  }

  /** Highest seq written by the other side (0 if none). */
  lastFromPeer(ownRole) {
    let last = 0;
    for (const m of this.bySeq.values()) {
      if (m.sender.role !== ownRole && m.seq > last) last = m.seq;
    }
    return last;
  }

  /** Messages from the other side that this side has not read. */
  unread(ownRole) {
    let count = 0;
    for (const m of this.bySeq.values()) {
      if (m.sender.role !== ownRole && m.seq > this.ownRead) count += 1;
    }
    return count;
  }

  /**
   * When the other side started waiting for an answer: the sent_at of the
   * first of their messages after this side's last one, or null.
   */
  waitingSince(ownRole) {
    let since = null;
    const ordered = [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
    for (const m of ordered) {
      if (m.sender.role === ownRole) since = null;
      else if (since === null) since = m.sent_at;
    }
    return since;
  }

  isTyping(now) {
    return now < this.typingUntil;
  }
}
