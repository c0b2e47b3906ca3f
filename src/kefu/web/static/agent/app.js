// The agent workspace: sign in, set a status, and answer several sessions
// side by side.  Each open session has a pane with the customer's context,
// its messages, a composer whose draft is kept per session, canned replies,
// transfer and close.

import { html, render, useEffect, useMemo, useReducer, useRef, useState } from "../vendor/htm/preact-standalone.module.js";
import { api } from "../common/api.js";
import { ChatClient } from "../common/client.js";
import { duration, initialLanguage, safeStorage, saveLanguage, translator } from "../common/i18n.js";
import { Composer, ConnectionNotice, LanguageSwitch, MessageLog, TypingLine } from "../common/ui.js";
import { chime, titleBadge, unlockSound } from "./alerts.js";
import { STRINGS } from "./strings.js";

const AUTH_KEY = "kefu.agent.auth";
const PREFS_KEY = "kefu.agent.prefs";
const DRAFTS_KEY = "kefu.agent.drafts";
const STATUSES = ["online", "away", "offline"];

// -- stored state ----------------------------------------------------------------

function load(storage, key, fallback) {
  try {
    return JSON.parse(storage?.getItem(key) || "null") ?? fallback;
  } catch {
    return fallback;
  }
}

function store(storage, key, value) {
  try {
    storage?.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or blocked: the page still works, it just forgets.
  }
}

/** A saved login, if its token has not expired. */
function savedAuth() {
  const auth = load(window.sessionStorage, AUTH_KEY, null);
  if (!auth || Date.parse(auth.expiresAt) <= Date.now()) return null;
  return auth;
}

/** A readable issue type: translated when known, else the label itself. */
function issueLabel(t, issueType) {
  if (!issueType) return t("none");
  const key = `issue_${issueType}`;
  const label = t(key);
  return label === key ? issueType.replaceAll("_", " ") : label;
}

// -- the app ---------------------------------------------------------------------

function App() {
  const [lang, setLangState] = useState(initialLanguage);
  const t = useMemo(() => translator(STRINGS, lang), [lang]);
  const setLang = (next) => { saveLanguage(next); setLangState(next); };
  const [auth, setAuth] = useState(savedAuth);
  useEffect(() => saveLanguage(lang), []);

  const signOut = () => {
    window.sessionStorage.removeItem(AUTH_KEY);
    setAuth(null);
  };
  const signedIn = (next) => {
    store(window.sessionStorage, AUTH_KEY, next);
    setAuth(next);
  };
  return auth
    ? html`<${Workspace} key=${auth.agentId} auth=${auth} t=${t} lang=${lang} setLang=${setLang} onSignOut=${signOut} />`
    : html`<${Login} t=${t} lang=${lang} setLang=${setLang} onSignedIn=${signedIn} />`;
}

// -- login -----------------------------------------------------------------------------

function Login({ t, lang, setLang, onSignedIn }) {
  const [agentId, setAgentId] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    // Exchange id and password for a token; the click also unlocks sound.
    event.preventDefault();
    unlockSound();
    setBusy(true);
    setError("");
    try {
      const body = { agent_id: agentId.trim(), password };
      const answer = await api("POST", "/v1/agents/login", { body });
      onSignedIn({ agentId: body.agent_id, token: answer.token, expiresAt: answer.expires_at });
    } catch (e) {
      setError(e.status === 401 ? t("loginFailed") : t("error", { message: e.message }));
    } finally {
      setBusy(false);
    }
  };

  return html`
    <div class="login-page">
      <form class="card stack login" onSubmit=${submit} aria-labelledby="login-title">
        <div class="login-head">
          <img class="logo" src="/static/common/icon.svg" alt="" width="30" height="30" />
          <h1 id="login-title">${t("title")}</h1>
          <${LanguageSwitch} lang=${lang} setLang=${setLang} />
        </div>
        <p class="muted">${t("loginHelp")}</p>
        <label for="login-id">${t("agentId")}</label>
        <input id="login-id" data-testid="agent-login-id" autocomplete="username" required
          value=${agentId} onInput=${(e) => setAgentId(e.currentTarget.value)} />
        <label for="login-password">${t("password")}</label>
        <input id="login-password" data-testid="agent-login-password" type="password" autocomplete="current-password" required
          value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" class="primary" data-testid="agent-login-submit" disabled=${busy}>${t("signIn")}</button>
      </form>
    </div>`;
}

// -- the workspace ---------------------------------------------------------------

function Workspace({ auth, t, lang, setLang, onSignOut }) {
  const [, rerender] = useReducer((n) => n + 1, 0);
  const local = safeStorage();
  const [prefs, setPrefsState] = useState(() => ({ status: "online", sound: true, badge: true, ...load(local, PREFS_KEY, {}) }));
  const setPrefs = (change) => setPrefsState((old) => { const next = { ...old, ...change }; store(local, PREFS_KEY, next); return next; });
  const [activeId, setActiveId] = useState(null);
  const [dismissed, setDismissed] = useState(() => new Set());
  const [notice, setNotice] = useState("");
  const drafts = useRef(load(window.sessionStorage, DRAFTS_KEY, {}));
  const prefsRef = useRef(prefs);
  prefsRef.current = prefs;
  const activeRef = useRef(activeId);
  activeRef.current = activeId;

  // One live connection per signed-in agent; it reconnects by itself.
  const client = useMemo(() => new ChatClient({
    role: "agent",
    getToken: async () => auth.token,
    onChange: rerender,
    onEvent: (event) => onClientEvent(event),
    onAuthFailed: onSignOut,
  }), [auth.token]);

  function onClientEvent(event) {
    // Status after every (re)connect; alerts for new sessions and messages.
    if (event.type === "authenticated") {
      putStatus(prefsRef.current.status);
    } else if (event.type === "session") {
      sessionEvent(event);
    } else if (event.type === "message" && event.message.sender.role === "customer") {
      const away = document.visibilityState !== "visible" || activeRef.current !== event.message.session_id;
      if (away && prefsRef.current.sound) chime("message");
    } else if (event.type === "error" && !event.sessionId) {
      setNotice(t("error", { message: event.message }));
    }
  }

  function sessionEvent({ session, before }) {
    const mine = session.agent_id === auth.agentId;
    if (mine && session.state === "assigned" && (!before || before.agent_id !== auth.agentId)) {
      if (prefsRef.current.sound) chime("session");
      setActiveId((current) => current || session.id);
    }
    if (before && before.agent_id === auth.agentId && !mine && session.state !== "closed") {
      setNotice(t("transferred", { id: session.id }));
    }
  }

  async function putStatus(status) {
    try {
      await api("PUT", "/v1/agents/me/status", { token: auth.token, body: { status } });
    } catch (e) {
      if (e.status === 401) onSignOut();
      else setNotice(t("error", { message: e.message }));
    }
  }

  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);

  // Re-render once a second so waiting times tick.
  useEffect(() => {
    const timer = setInterval(rerender, 1000);
    return () => clearInterval(timer);
  }, []);

  // The sessions this agent holds, plus closed ones not yet dismissed.
  const sessions = [...client.sessions.values()]
    .filter((s) => s.agent_id === auth.agentId && (s.state === "assigned" || (s.state === "closed" && !dismissed.has(s.id))))
    .sort((a, b) => Date.parse(a.assigned_at || a.created_at) - Date.parse(b.assigned_at || b.created_at));
  const active = sessions.find((s) => s.id === activeId) ? activeId : sessions[0]?.id ?? null;

  // Unread counts drive the title badge.
  const unreadTotal = sessions.reduce((sum, s) => sum + client.conversation(s.id).unread("agent"), 0);
  useEffect(() => titleBadge(unreadTotal, prefs.badge), [unreadTotal, prefs.badge]);

  // The pane in front counts as read while the page is visible.
  useEffect(() => {
    if (active && document.visibilityState === "visible") client.markRead(active);
  });

  const changeStatus = (status) => {
    unlockSound();
    setPrefs({ status });
    putStatus(status);
  };
  const draftOf = (id) => drafts.current[id] || "";
  const setDraft = (id, text) => {
    drafts.current = { ...drafts.current, [id]: text };
    store(window.sessionStorage, DRAFTS_KEY, drafts.current);
    rerender();
  };
  const focusSession = (id) => {
    setActiveId(id);
    requestAnimationFrame(() => document.getElementById(`composer-${id}`)?.focus());
  };
  const dismiss = (id) => setDismissed((old) => new Set([...old, id]));

  return html`
    <div class="workspace">
      <header class="topbar">
        <img class="logo" src="/static/common/icon.svg" alt="" width="30" height="30" />
        <h1>${t("title")}</h1>
        <span class="who" data-testid="agent-id">${auth.agentId}</span>
        <label class="inline" for="agent-status">${t("status")}</label>
        <select id="agent-status" data-testid="agent-status" class="status-${prefs.status}" value=${prefs.status}
          onChange=${(e) => changeStatus(e.currentTarget.value)}>
          ${STATUSES.map((s) => html`<option value=${s}>${t(`status_${s}`)}</option>`)}
        </select>
        <label class="check"><input type="checkbox" data-testid="sound-toggle" checked=${prefs.sound}
          onChange=${(e) => { unlockSound(); setPrefs({ sound: e.currentTarget.checked }); }} /> ${t("sound")}</label>
        <label class="check"><input type="checkbox" data-testid="badge-toggle" checked=${prefs.badge}
          onChange=${(e) => setPrefs({ badge: e.currentTarget.checked })} /> ${t("badge")}</label>
        <${LanguageSwitch} lang=${lang} setLang=${setLang} />
        <button type="button" class="ghost" onClick=${() => { client.stop(); onSignOut(); }}>${t("signOut")}</button>
      </header>
      <${ConnectionNotice} state=${client.state} t=${t} />
      ${notice && html`<div class="notice warn banner" role="status">${notice}
        <button type="button" class="link" onClick=${() => setNotice("")}>${t("dismiss")}</button></div>`}
      <div class="layout">
        <${SessionList} sessions=${sessions} client=${client} active=${active} t=${t} status=${prefs.status} onPick=${focusSession} />
        <main class="panes" aria-label=${t("sessions")}>
          ${sessions.map((s) => html`<${Pane} key=${s.id} session=${s} client=${client} t=${t} lang=${lang}
              auth=${auth} active=${s.id === active} draft=${draftOf(s.id)} setDraft=${(text) => setDraft(s.id, text)}
              onFocus=${() => setActiveId(s.id)} onDismiss=${() => dismiss(s.id)} onNotice=${setNotice} />`)}
        </main>
      </div>
    </div>`;
}

// -- the session list ---------------------------------------------------------------

function SessionList({ sessions, client, active, t, status, onPick }) {
  const now = Date.now();
  return html`
    <nav class="session-list" aria-labelledby="sessions-title">
      <h2 id="sessions-title">${t("sessions")} <span class="count">${sessions.filter((s) => s.state !== "closed").length}</span></h2>
      ${sessions.length === 0 && html`<p class="muted empty">${status === "online" ? t("noSessions") : t("noSessionsOffline")}</p>`}
      <ul>
        ${sessions.map((s) => {
          const conv = client.conversation(s.id);
          const unread = conv.unread("agent");
          const since = conv.waitingSince("agent");
          const label = s.state === "closed" ? t("closed")
            : since ? t("waiting", { t: duration((now - Date.parse(since)) / 1000) })
            : t("open", { t: duration((now - Date.parse(s.assigned_at || s.created_at)) / 1000) });
          return html`<li key=${s.id}>
            <button type="button" class="session-item ${s.id === active ? "active" : ""} ${since ? "waiting" : ""}"
              data-testid="session-item" data-session-id=${s.id} aria-current=${s.id === active ? "true" : undefined}
              onClick=${() => onPick(s.id)}>
              <span class="name">${s.customer_id}${s.tier === "vip" && html` <span class="vip">VIP</span>`}</span>
              ${unread > 0 && html`<span class="unread" data-testid="unread-count" aria-label=${t("unread", { n: unread })}>${unread}</span>`}
              <span class="sub">${issueLabel(t, s.issue_type)} · <span data-testid="waiting-time">${label}</span></span>
            </button>
          </li>`;
        })}
      </ul>
    </nav>`;
}

// -- one session's pane -----------------------------------------------------------------

function Pane({ session, client, t, lang, auth, active, draft, setDraft, onFocus, onDismiss, onNotice }) {
  const conv = client.conversation(session.id);
  const closed = session.state === "closed";
  const [transferring, setTransferring] = useState(false);
  const titleId = `pane-title-${session.id}`;

  const close = async () => {
    try {
      const answer = await api("POST", `/v1/sessions/${encodeURIComponent(session.id)}/close`, { token: auth.token });
      client.upsertSession(answer.session);
    } catch (e) {
      onNotice(t("error", { message: e.message }));
    }
  };
  const insertCanned = (text) => {
    // Canned text goes into the draft so the agent can adapt it before sending.
    if (!text) return;
    setDraft(draft ? `${draft} ${text}` : text);
    requestAnimationFrame(() => document.getElementById(`composer-${session.id}`)?.focus());
  };

  return html`
    <section class="pane ${active ? "active" : ""} ${closed ? "closed" : ""}" data-testid="session-pane"
      data-session-id=${session.id} aria-labelledby=${titleId} onFocusIn=${onFocus} onMouseDown=${onFocus}>
      <header class="pane-head">
        <h2 id=${titleId} class="grow">${session.customer_id}${session.tier === "vip" && html` <span class="vip">VIP</span>`}</h2>
        ${!closed && html`<button type="button" class="ghost" aria-expanded=${transferring}
          onClick=${() => setTransferring(!transferring)}>${t("transfer")}</button>`}
        ${closed
          ? html`<button type="button" class="ghost" onClick=${onDismiss}>${t("dismiss")}</button>`
          : html`<button type="button" class="ghost danger" data-testid="close-session" onClick=${close}>${t("closeSession")}</button>`}
      </header>
      ${transferring && html`<${TransferForm} session=${session} client=${client} t=${t} auth=${auth}
        onDone=${() => setTransferring(false)} onNotice=${onNotice} />`}
      <${Context} session=${session} t=${t} />
      ${closed && html`<p class="notice warn" role="status">${t("closed")}</p>`}
      <${MessageLog} conv=${conv} ownRole="agent" t=${t} lang=${lang} labelledBy=${titleId}
        onRetry=${(id) => client.retry(session.id, id)} />
      <${TypingLine} conv=${conv} text=${t("customerTyping")} />
      ${!closed && html`
        <div class="canned">
          <label class="sr-only" for=${`canned-${session.id}`}>${t("cannedLabel")}</label>
          <select id=${`canned-${session.id}`} data-testid="canned" value=""
            onChange=${(e) => { insertCanned(e.currentTarget.value); e.currentTarget.value = ""; }}>
            <option value="">${t("cannedPick")}</option>
            ${STRINGS[lang].canned.map((text) => html`<option value=${text}>${text}</option>`)}
          </select>
        </div>
        <${Composer} id=${`composer-${session.id}`} draft=${draft} setDraft=${setDraft} t=${t}
          label=${`${t("message")} ${session.customer_id}`}
          onSend=${(text) => client.send(session.id, text)} onTyping=${() => client.typing(session.id)} />`}
    </section>`;
}

/** The customer's context: what the problem is and who they are. */
function Context({ session, t }) {
  const since = Date.parse(session.created_at);
  const order = [session.order_id, session.order_status].filter(Boolean).join(" · ");
  const rows = [
    ["issue_type", issueLabel(t, session.issue_type)],
    ["channel", t(`channel_${session.channel}`)],
    ["order", order || t("none")],
    ["tier", session.tier === "vip" ? t("vip") : t("regular")],
    ["skill_group", session.skill_group],
  ];
  if (session.verification && session.verification.state) {
    rows.push(["verification", t(`verification_${session.verification.state}`)]);
  }
  return html`
    <dl class="context" data-testid="session-context">
      ${rows.map(([key, value]) => html`<div class="ctx ctx-${key}" data-testid=${`ctx-${key}`}><dt>${t(key)}</dt><dd>${value}</dd></div>`)}
      <div class="ctx"><dt>${t("openFor")}</dt><dd>${duration((Date.now() - since) / 1000)}</dd></div>
    </dl>`;
}

/** Move the session to a skill group's queue or to another agent. */
function TransferForm({ session, client, t, auth, onDone, onNotice }) {
  const [groups, setGroups] = useState(null);
  const [agents, setAgents] = useState(null);
  const [target, setTarget] = useState("");

  // Load the choices; without them the form takes a typed group or agent id.
  useEffect(() => {
    api("GET", "/v1/skill-groups", { token: auth.token }).then((a) => setGroups(a.skill_groups), () => setGroups([]));
    api("GET", "/v1/agents", { token: auth.token }).then(
      (a) => setAgents(a.agents.filter((x) => x.id !== auth.agentId)),
      () => setAgents([]),
    );
  }, []);

  const submit = async (event) => {
    event.preventDefault();
    const [kind, value] = target.includes(":") ? target.split(/:(.*)/s) : ["group", target.trim()];
    if (!value) return;
    const body = kind === "agent" ? { agent_id: value } : { skill_group: value };
    try {
      const answer = await api("POST", `/v1/sessions/${encodeURIComponent(session.id)}/transfer`, { token: auth.token, body });
      client.upsertSession(answer.session);
      onDone();
    } catch (e) {
      onNotice(t("error", { message: e.message }));
    }
  };

  const listed = (groups && groups.length) || (agents && agents.length);
  return html`
    <form class="transfer" onSubmit=${submit}>
      <label for=${`transfer-${session.id}`}>${t("transferTo")}</label>
      ${listed
        ? html`<select id=${`transfer-${session.id}`} data-testid="transfer-target" value=${target} onChange=${(e) => setTarget(e.currentTarget.value)}>
            <option value="">—</option>
            <optgroup label=${t("transferGroups")}>
              ${(groups || []).filter((g) => g !== session.skill_group).map((g) => html`<option value=${`group:${g}`}>${g}</option>`)}
            </optgroup>
            <optgroup label=${t("transferAgents")}>
              ${(agents || []).map((a) => html`<option value=${`agent:${a.id}`} disabled=${a.status !== "online"}>
                ${a.name} (${t(`status_${a.status}`)}, ${t("load", a)})</option>`)}
            </optgroup>
          </select>`
        : html`<input id=${`transfer-${session.id}`} data-testid="transfer-target" placeholder=${t("transferTarget")}
            value=${target} onInput=${(e) => setTarget(e.currentTarget.value)} />`}
      <button type="submit" class="primary" disabled=${!target}>${t("transferSubmit")}</button>
      <button type="button" class="ghost" onClick=${onDone}>${t("cancel")}</button>
    </form>`;
}

render(html`<${App} />`, document.getElementById("app"));
