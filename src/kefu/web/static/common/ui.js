// View pieces both pages share: the message log, the composer, notices and
// the language switch.  Text written by people is always a text child, which
// Preact inserts as a text node and never parses as HTML.

import { html, useEffect, useRef } from "../vendor/htm/preact-standalone.module.js";
import { clockTime } from "./i18n.js";

/** The log of one conversation, oldest first, kept scrolled to the newest. */
export function MessageLog({ conv, ownRole, t, lang, labelledBy, onRetry }) {
  const { durable, waiting } = conv.timeline();
  const box = useRef(null);
  const count = durable.length + waiting.length;

  // Follow new messages unless the reader has scrolled up to read history.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const nearBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    if (nearBottom || el.dataset.count === undefined) el.scrollTop = el.scrollHeight;
    el.dataset.count = String(count);
  }, [count]);

  return html`
    <ol class="log" ref=${box} role="log" aria-live="polite" aria-labelledby=${labelledBy} tabindex="0">
      ${durable.map((m) => html`<${Bubble} key=${m.seq} m=${m} conv=${conv} ownRole=${ownRole} t=${t} lang=${lang} />`)}
      ${waiting.map((p) => html`<${PendingBubble} key=${p.clientMsgId} p=${p} t=${t} onRetry=${onRetry} />`)}
    </ol>`;
}

function Bubble({ m, conv, ownRole, t, lang }) {
  // Whose message, and for own messages whether the other side has read it.
  const own = m.sender.role === ownRole;
  const side = m.sender.role === "system" ? "system" : own ? "own" : "peer";
  const status = own ? (m.seq <= conv.peerRead ? t("read") : t("sent")) : "";
  return html`
    <li class="msg ${side}" data-testid="message" data-seq=${m.seq} data-sender=${m.sender.role}>
      <p class="msg-text">${m.text}</p>
      <p class="msg-meta">
        <time datetime=${m.sent_at}>${clockTime(m.sent_at, lang)}</time>
        ${status && html`<span class="msg-status" data-testid="delivery" data-state=${m.seq <= conv.peerRead ? "read" : "sent"}>${status}</span>`}
      </p>
    </li>`;
}

function PendingBubble({ p, t, onRetry }) {
  // An own message the server has not stored yet, or refused.
  return html`
    <li class="msg own pending" data-testid="message-pending">
      <p class="msg-text">${p.text}</p>
      <p class="msg-meta">
        ${p.failed
          ? html`<span class="msg-status failed" role="alert">${t("notSent")}</span>
              <button type="button" class="link" onClick=${() => onRetry(p.clientMsgId)}>${t("retry")}</button>`
          : html`<span class="msg-status" data-testid="delivery" data-state="sending">${t("sending")}</span>`}
      </p>
    </li>`;
}

/**
 * A text area with a send button.  Enter sends, Shift+Enter starts a line.
 * The draft lives with the caller so that it survives re-renders and moves.
 */
export function Composer({ id, draft, setDraft, onSend, onTyping, disabled, t, label }) {
  const submit = (event) => {
    event.preventDefault();
    const text = draft.trim();
    if (!text || disabled) return;
    onSend(text);
    setDraft("");
  };
  const keydown = (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) submit(event);
  };
  return html`
    <form class="composer" onSubmit=${submit}>
      <label class="sr-only" for=${id}>${label || t("message")}</label>
      <textarea id=${id} data-testid="composer" rows="2" maxlength="2000"
        placeholder=${t("typeMessage")} value=${draft} disabled=${disabled}
        onInput=${(e) => { setDraft(e.currentTarget.value); onTyping && onTyping(); }}
        onKeyDown=${keydown}></textarea>
      <button type="submit" class="primary" data-testid="send" disabled=${disabled || !draft.trim()}>${t("send")}</button>
    </form>`;
}

/** "Reconnecting…" while the socket is down; nothing while online. */
export function ConnectionNotice({ state, t }) {
  if (state === "online") return null;
  return html`<div class="notice offline" role="status" data-testid="offline-notice">
    <span class="dot" aria-hidden="true"></span>${t("offline")}
  </div>`;
}

/** A button that switches between English and Chinese. */
export function LanguageSwitch({ lang, setLang }) {
  const next = lang === "zh" ? "en" : "zh";
  return html`<button type="button" class="ghost lang" lang=${next === "zh" ? "zh-CN" : "en"}
      aria-label=${next === "zh" ? "切换到中文" : "Switch to English"}
      onClick=${() => setLang(next)}>${next === "zh" ? "中文" : "EN"}</button>`;
}

/** "Someone is typing…" for a conversation, when it applies. */
export function TypingLine({ conv, text }) {
  const on = conv.isTyping(Date.now());
  return html`<p class="typing" aria-live="polite" data-testid="typing">${on ? text : ""}</p>`;
}
