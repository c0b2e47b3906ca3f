// The customer widget: open a contact, wait in the queue, chat, close.
//
// Standalone (/chat) it asks for a customer id and fetches a demo token;
// framed by embed.js (/chat?embed=1) it gets its token from the host page
// through postMessage and never shows the sign-in form.

import { html, render, useEffect, useMemo, useReducer, useState } from "../vendor/htm/preact-standalone.module.js";
import { api } from "../common/api.js";
import { ChatClient } from "../common/client.js";
import { initialLanguage, saveLanguage, translator } from "../common/i18n.js";
import { Composer, ConnectionNotice, LanguageSwitch, MessageLog, TypingLine } from "../common/ui.js";
import { hostTokenSource } from "./host.js";
import { STRINGS } from "./strings.js";

const CHANNELS = ["app", "miniprogram", "phone", "web"];
const DEMO_KEY = "kefu.chat.demo";
const params = new URLSearchParams(location.search);
const EMBEDDED = params.get("embed") === "1";

// -- tokens ------------------------------------------------------------------

/** Demo mode: a token for a customer id, from the server's demo endpoint. */
async function demoToken(who) {
  const body = { customer_id: who.customerId };
  if (who.name) body.name = who.name;
  if (who.vip) body.tier = "vip";
  const { token } = await api("POST", "/v1/demo/customer-token", { body });
  return token;
}

function savedDemoCustomer() {
  try {
    return JSON.parse(sessionStorage.getItem(DEMO_KEY) || "null");
  } catch {
    return null;
  }
}

// -- the app -----------------------------------------------------------------

function App() {
  const [lang, setLangState] = useState(initialLanguage);
  const t = useMemo(() => translator(STRINGS, lang), [lang]);
  const setLang = (next) => { saveLanguage(next); setLangState(next); };
  const [, rerender] = useReducer((n) => n + 1, 0);
  const [token, setToken] = useState(null);
  const [error, setError] = useState("");
  const [currentId, setCurrentId] = useState(null);

  // One token source for the page: the host page, or the demo endpoint.
  const source = useMemo(() => (EMBEDDED ? hostTokenSource() : null), []);
  const [client, setClient] = useState(null);

  useEffect(() => saveLanguage(lang), []);

  // Embedded: wait for the host page's token; standalone: reuse a saved id.
  useEffect(() => {
    if (source) {
      source.get(false).then(setToken, () => setError(t("waitingHost")));
      return;
    }
    const who = savedDemoCustomer();
    if (who) demoToken(who).then(setToken, (e) => setError(e.message));
  }, []);

  // Once there is a token: open the live connection.
  useEffect(() => {
    if (!token) return undefined;
    let current = token;
    const getToken = async (refresh) => {
      if (!refresh) return current;
      current = source ? await source.get(true) : await demoToken(savedDemoCustomer());
      setToken(current);
      return current;
    };
    const live = new ChatClient({
      role: "customer",
      getToken,
      onChange: rerender,
      onEvent: (event) => adoptSession(event, setCurrentId),
      onAuthFailed: () => setError(t("error", { message: "unauthorized" })),
    });
    live.start();
    setClient(live);
    return () => live.stop();
  }, [token && "token"]);

  const session = client && currentId ? client.sessions.get(currentId) : null;

  // Report messages as read while the widget is visible.
  useEffect(() => {
    if (!client || !session) return undefined;
    const mark = () => document.visibilityState === "visible" && client.markRead(session.id);
    mark();
    document.addEventListener("visibilitychange", mark);
    return () => document.removeEventListener("visibilitychange", mark);
  });

  const body = !token
    ? EMBEDDED
      ? html`<p class="center muted" role="status">${error || t("waitingHost")}</p>`
      : html`<${SignIn} t=${t} onToken=${setToken} />`
    : !client
      ? null
      : session
        ? html`<${Conversation} client=${client} session=${session} t=${t} lang=${lang} token=${token}
            onNew=${() => setCurrentId(null)} />`
        : html`<${ContactForm} t=${t} token=${token} onOpened=${(s) => { client.upsertSession(s); setCurrentId(s.id); }} />`;

  return html`
    <div class="chat-shell ${EMBEDDED ? "embedded" : ""}">
      <header class="bar">
        <img class="logo" src="/static/common/icon.svg" alt="" width="30" height="30" />
        <h1>${t("title")}</h1>
        <${LanguageSwitch} lang=${lang} setLang=${setLang} />
      </header>
      ${client && html`<${ConnectionNotice} state=${client.state} t=${t} />`}
      <main class="chat-main">${body}</main>
    </div>`;
}

/** Follow the newest open session the server tells about, if none is shown. */
function adoptSession(event, setCurrentId) {
  if (event.type !== "session" || event.session.state === "closed") return;
  setCurrentId((current) => current || event.session.id);
}

// -- sign-in (standalone demo) -----------------------------------------------

function SignIn({ t, onToken }) {
  const [customerId, setCustomerId] = useState("");
  const [name, setName] = useState("");
  const [vip, setVip] = useState(false);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    // Mint a demo token and remember who signed in for reloads.
    event.preventDefault();
    const who = { customerId: customerId.trim(), name: name.trim(), vip };
    if (!who.customerId) return;
    setBusy(true);
    try {
      const token = await demoToken(who);
      sessionStorage.setItem(DEMO_KEY, JSON.stringify(who));
      onToken(token);
    } catch (e) {
      setError(e.status === 404 ? t("demoUnavailable") : t("error", { message: e.message }));
    } finally {
      setBusy(false);
    }
  };

  return html`
    <form class="card stack" onSubmit=${submit} aria-labelledby="signin-title">
      <h2 id="signin-title">${t("signInTitle")}</h2>
      <p class="muted">${t("signInHelp")}</p>
      <label for="customer-id">${t("customerId")}</label>
      <input id="customer-id" data-testid="demo-customer-id" required maxlength="128" autocomplete="off"
        value=${customerId} onInput=${(e) => setCustomerId(e.currentTarget.value)} />
      <label for="customer-name">${t("yourName")}</label>
      <input id="customer-name" maxlength="64" value=${name} onInput=${(e) => setName(e.currentTarget.value)} />
      <label class="check"><input type="checkbox" checked=${vip} onChange=${(e) => setVip(e.currentTarget.checked)} /> ${t("vip")}</label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" data-testid="demo-start" disabled=${busy}>${t("start")}</button>
    </form>`;
}

// -- opening a contact -----------------------------------------------------------

function ContactForm({ t, token, onOpened }) {
  const [text, setText] = useState("");
  const [channel, setChannel] = useState(params.get("channel") || (EMBEDDED ? "app" : "web"));
  const [orderId, setOrderId] = useState(params.get("order_id") || "");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    // POST the contact; the answer is the new session, queued or assigned.
    event.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setError("");
    const body = { text: text.trim(), channel };
    if (orderId.trim()) body.order_id = orderId.trim();
    try {
      const { session } = await api("POST", "/v1/contacts", { token, body });
      onOpened(session);
    } catch (e) {
      setError(t("error", { message: e.message }));
    } finally {
      setBusy(false);
    }
  };

  return html`
    <form class="card stack" onSubmit=${submit} aria-labelledby="contact-title">
      <h2 id="contact-title">${t("contactTitle")}</h2>
      <p class="muted">${t("contactHelp")}</p>
      <label for="contact-text">${t("contactText")}</label>
      <textarea id="contact-text" data-testid="contact-text" rows="4" maxlength="2000" required
        placeholder=${t("contactPlaceholder")} value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
      <div class="row">
        <div class="field">
          <label for="contact-channel">${t("channel")}</label>
          <select id="contact-channel" data-testid="contact-channel" value=${channel} onChange=${(e) => setChannel(e.currentTarget.value)}>
            ${CHANNELS.map((c) => html`<option value=${c}>${t(`channel_${c}`)}</option>`)}
          </select>
        </div>
        <div class="field">
          <label for="contact-order">${t("orderId")}</label>
          <input id="contact-order" maxlength="64" value=${orderId} onInput=${(e) => setOrderId(e.currentTarget.value)} />
        </div>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" data-testid="contact-submit" disabled=${busy || !text.trim()}>
        ${busy ? t("opening") : t("contactSubmit")}
      </button>
    </form>`;
}

// -- the conversation ----------------------------------------------------------------

function Conversation({ client, session, t, lang, token, onNew }) {
  const [draft, setDraft] = useState("");
  const [error, setError] = useState("");
  const conv = client.conversation(session.id);
  const closed = session.state === "closed";
  const agentName = session.agent_name || session.agent_id || t("anAgent");

  const close = async () => {
    try {
      const { session: updated } = await api("POST", `/v1/sessions/${encodeURIComponent(session.id)}/close`, { token });
      client.upsertSession(updated);
    } catch (e) {
      setError(t("error", { message: e.message }));
    }
  };

  return html`
    <section class="conversation" aria-labelledby="conversation-title">
      <h2 id="conversation-title" class="sr-only">${t("conversation")}</h2>
      <${StatusCard} session=${session} t=${t} agentName=${agentName} onNew=${onNew} onClose=${close} />
      <${Verification} session=${session} t=${t} token=${token} client=${client} />
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <${MessageLog} conv=${conv} ownRole="customer" t=${t} lang=${lang} labelledBy="conversation-title"
        onRetry=${(id) => client.retry(session.id, id)} />
      <${TypingLine} conv=${conv} text=${t("agentTyping", { name: agentName })} />
      ${!closed && html`<${Composer} id="customer-composer" draft=${draft} setDraft=${setDraft} t=${t}
        onSend=${(text) => client.send(session.id, text)} onTyping=${() => client.typing(session.id)} />`}
    </section>`;
}

/** Queue place and estimated wait, the agent's name, or the end of the chat. */
function StatusCard({ session, t, agentName, onNew, onClose }) {
  if (session.state === "closed") {
    return html`<div class="status-card closed" role="status">
      <p>${t("closed")}</p>
      <button type="button" class="primary" data-testid="new-contact" onClick=${onNew}>${t("newContact")}</button>
    </div>`;
  }
  const end = html`<${EndButton} t=${t} onClose=${onClose} />`;
  if (session.state === "queued") {
    const queue = session.queue || {};
    return html`<div class="status-card queued" role="status" aria-live="polite">
      <div class="queue-badge" aria-hidden="true" data-testid="queue-position">${queue.position ?? "…"}</div>
      <div class="grow">
        <p class="strong">${t("queued", { n: queue.position ?? "…" })}</p>
        <p class="muted">${waitText(queue.estimated_wait_s, t)}</p>
      </div>
      ${end}
    </div>`;
  }
  return html`<div class="status-card assigned" role="status" aria-live="polite">
    <span class="avatar" aria-hidden="true">${agentName.slice(0, 1).toUpperCase()}</span>
    <p class="grow strong" data-testid="agent-name">${t("assigned", { name: agentName })}</p>
    ${end}
  </div>`;
}

/** "End chat", then a confirmation in place (ending cannot be undone). */
function EndButton({ t, onClose }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return html`<button type="button" class="ghost danger" data-testid="close-session"
      onClick=${() => setAsking(true)}>${t("closeConversation")}</button>`;
  }
  return html`<span class="confirm" role="group" aria-label=${t("confirmClose")}>
    <button type="button" class="danger" data-testid="close-confirm" ref=${(el) => el && el.focus()}
      onClick=${() => { setAsking(false); onClose(); }}>${t("confirmYes")}</button>
    <button type="button" class="ghost" onClick=${() => setAsking(false)}>${t("cancel")}</button>
  </span>`;
}

function waitText(seconds, t) {
  if (seconds === null || seconds === undefined) return t("waitUnknown");
  if (seconds < 60) return t("waitUnderMinute");
  return t("waitAbout", { n: Math.round(seconds / 60) });
}

/** The verification prompt or result, when the session carries one. */
function Verification({ session, t, token, client }) {
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const state = session.verification && session.verification.state;
  if (!state) return null;
  if (state === "verified") return html`<p class="notice ok" role="status" data-testid="verification">${t("verified")}</p>`;
  if (state === "failed") return html`<p class="notice warn" role="status" data-testid="verification">${t("verifyFailed")}</p>`;
  if (state === "unavailable") return html`<p class="notice warn" role="status" data-testid="verification">${t("verifyUnavailable")}</p>`;

  const submit = async (event) => {
    // Send the code; the answer (and a session frame) carries the new state.
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      const answer = await api("POST", `/v1/sessions/${encodeURIComponent(session.id)}/verify`, { token, body: { code: code.trim() } });
      if (answer && answer.session) client.upsertSession(answer.session);
      setCode("");
    } catch (e) {
      setError(t("error", { message: e.message }));
    } finally {
      setBusy(false);
    }
  };
  return html`
    <form class="card verify" data-testid="verification" onSubmit=${submit} aria-labelledby="verify-title">
      <h3 id="verify-title">${t("verifyTitle")}</h3>
      <p class="muted">${t("verifyPrompt")}</p>
      <div class="row">
        <label class="sr-only" for="verify-code">${t("verifyCode")}</label>
        <input id="verify-code" data-testid="verification-code" inputmode="numeric" autocomplete="one-time-code"
          maxlength="12" required value=${code} onInput=${(e) => setCode(e.currentTarget.value)} />
        <button type="submit" class="primary" data-testid="verification-submit" disabled=${busy || !code.trim()}>${t("verifySubmit")}</button>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
    </form>`;
}

render(html`<${App} />`, document.getElementById("app"));
