// The supervisor dashboard: log in like an agent, fetch a single-use ticket,
// and follow the server-sent figures of GET /v1/dashboard/stream.  Charts
// are drawn by the vendored uPlot; every figure is also written as text.

import { html, render, useEffect, useRef, useState } from "../vendor/htm/preact-standalone.module.js";
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { api, ApiError } from "../common/api.js";

const AUTH_KEY = "kefu.dashboard.auth";
// Reconnect back-off bounds, in milliseconds.
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 8000;
// Chart points kept in the page (one per second).
const MAX_POINTS = 300;

// -- stored login ----------------------------------------------------------------

function savedAuth() {
  try {
    const auth = JSON.parse(window.sessionStorage.getItem(AUTH_KEY) || "null");
    return auth && Date.parse(auth.expiresAt) > Date.now() ? auth : null;
  } catch {
    return null;
  }
}

function saveAuth(auth) {
  try {
    if (auth) window.sessionStorage.setItem(AUTH_KEY, JSON.stringify(auth));
    else window.sessionStorage.removeItem(AUTH_KEY);
  } catch {
    // Storage blocked: the login lasts as long as the page.
  }
}

// -- formatting ------------------------------------------------------------------

const dash = "–";
const fixed = (v, digits) => (v == null ? dash : v.toFixed(digits));
const percent = (v) => (v == null ? dash : `${(v * 100).toFixed(1)}%`);
const millis = (s) => (s == null ? dash : `${Math.round(s * 1000)} ms`);
const seconds = (s) => (s == null ? dash : s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);

// -- the stream ------------------------------------------------------------------

/**
 * Follow the figures stream: a new ticket for every (re)connect.
 * Returns {state, data, points}; state is connecting, live, offline or forbidden.
 */
function useFigures(auth, onSignedOut) {
  const [state, setState] = useState("connecting");
  const [data, setData] = useState(null);
  const [points, setPoints] = useState([]);

  useEffect(() => {
    let source = null;
    let timer = null;
    let stopped = false;
    let delay = RETRY_MIN_MS;

    const retry = () => {
      if (stopped) return;
      setState("offline");
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    };

    async function connect() {
      // A ticket first: EventSource cannot send the bearer token.
      setState((s) => (s === "live" ? s : "connecting"));
      let ticket;
      try {
        ({ ticket } = await api("POST", "/v1/dashboard/ticket", { token: auth.token }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return onSignedOut();
        if (err instanceof ApiError && err.status === 403) return setState("forbidden");
        return retry();
      }
      if (stopped) return;
      // Then the stream; "end" asks for a fresh ticket, errors back off.
      source = new EventSource(`/v1/dashboard/stream?ticket=${encodeURIComponent(ticket)}`);
      source.addEventListener("history", (e) => setPoints(JSON.parse(e.data).points));
      source.addEventListener("figures", (e) => {
        const body = JSON.parse(e.data);
        delay = RETRY_MIN_MS;
        setState("live");
        setData(body);
        setPoints((old) => {
          const last = old[old.length - 1];
          if (last && last[0] >= body.point[0]) return old;
          return [...old, body.point].slice(-MAX_POINTS);
        });
      });
      source.addEventListener("end", () => { source.close(); connect(); });
      source.onerror = () => { source.close(); retry(); };
    }

    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (source) source.close();
    };
  }, [auth.token]);

  return { state, data, points };
}

// -- components ------------------------------------------------------------------

function Login({ onLogin }) {
  const [id, setId] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const r = await api("POST", "/v1/agents/login", { body: { agent_id: id, password } });
      onLogin({ id, token: r.token, expiresAt: r.expires_at });
    } catch (err) {
      setError(err.status === 401 ? "Unknown supervisor or wrong password." : "kefu cannot be reached; try again.");
    } finally {
      setBusy(false);
    }
  }

  return html`
    <main class="login card">
      <form class="stack" onSubmit=${submit}>
        <h1>Supervisor dashboard</h1>
        <label for="login-id">Supervisor id</label>
        <input id="login-id" data-testid="dash-login-id" autocomplete="username" required
          value=${id} onInput=${(e) => setId(e.target.value)} />
        <label for="login-password">Password</label>
        <input id="login-password" data-testid="dash-login-password" type="password"
          autocomplete="current-password" required
          value=${password} onInput=${(e) => setPassword(e.target.value)} />
        <p class="error" role="alert">${error}</p>
        <button class="primary" type="submit" data-testid="dash-login-submit" disabled=${busy}>Log in</button>
      </form>
    </main>`;
}

/** One figure: its value large, its name below, an optional note. */
function Tile({ id, label, value, sub, bad }) {
  return html`
    <div class=${`tile${bad ? " bad" : ""}`}>
      <dt>${label}${sub ? html` <span class="sub">${sub}</span>` : null}</dt>
      <dd data-testid=${id}>${value}</dd>
    </div>`;
}

/** A uPlot line chart of one column of the points, sized to its box. */
function Chart({ title, column, unit, color, points }) {
  const box = useRef(null);
  const plot = useRef(null);

  // Create the chart once, and follow the box's width.
  useEffect(() => {
    const el = box.current;
    const opts = {
      width: Math.max(200, el.clientWidth),
      height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.15)] } },
      series: [{}, { label: title, stroke: color, width: 2, fill: `${color}1a`, spanGaps: true }],
      axes: [{ stroke: "#57606a" }, { stroke: "#57606a", size: 52 }],
    };
    plot.current = new uPlot(opts, [[], []], el);
    const resize = new ResizeObserver(() => {
      plot.current.setSize({ width: Math.max(200, el.clientWidth), height: 170 });
    });
    resize.observe(el);
    return () => { resize.disconnect(); plot.current.destroy(); };
  }, []);

  // New data on every update.
  useEffect(() => {
    if (!plot.current) return;
    plot.current.setData([points.map((p) => p[0]), points.map((p) => p[column])]);
  }, [points]);

  const last = points.length ? points[points.length - 1][column] : null;
  const summary = `${title}: ${last == null ? "no data" : `${+last.toFixed(2)}${unit} now`}`;
  return html`
    <figure class="chart" aria-label=${summary}>
      <h3 aria-hidden="true">${title}${unit ? ` (${unit.trim()})` : ""}</h3>
      <div class="plot" ref=${box} role="img" aria-label=${summary}></div>
    </figure>`;
}

function Groups({ groups }) {
  return html`
    <div class="table-wrap panel">
      <table>
        <caption>Queues and agents per skill group</caption>
        <thead><tr>
          <th scope="col">Skill group</th><th scope="col">Queued</th><th scope="col">Oldest wait</th>
          <th scope="col">Agents online</th><th scope="col">Load / capacity</th>
        </tr></thead>
        <tbody>
          ${groups.map((g) => html`
            <tr key=${g.skill_group} data-testid="queue-row" data-group=${g.skill_group}>
              <th scope="row">${g.skill_group.replaceAll("_", " ")}</th>
              <td data-testid="queue-depth" class=${g.queue_depth && !g.agents_online ? "hot" : ""}>${g.queue_depth}</td>
              <td data-testid="oldest-wait" class=${g.oldest_wait_s > 60 ? "hot" : ""}>${g.queue_depth ? seconds(g.oldest_wait_s) : dash}</td>
              <td>${g.agents_online}</td>
              <td>${g.load} / ${g.capacity}</td>
            </tr>`)}
        </tbody>
      </table>
    </div>`;
}

function Checks({ checks }) {
  const firing = checks.filter((c) => c.firing).length;
  return html`
    <section class="panel" aria-labelledby="checks-title">
      <h2 id="checks-title">Alerts firing <span class="muted">(local checks)</span></h2>
      <p class="sr-only" aria-live="polite" data-testid="checks-summary">${firing} of ${checks.length} local checks firing</p>
      <ul class="checks">
        ${checks.map((c) => html`
          <li key=${c.name} class=${c.firing ? "firing" : ""} data-testid="check" data-name=${c.name} data-firing=${String(c.firing)}>
            <span class="state">${c.firing ? "firing" : "ok"}</span>
            <span>${c.name}</span>
            <span class="detail">${c.detail}</span>
          </li>`)}
      </ul>
    </section>`;
}

function Alertmanager({ view }) {
  if (!view) return null;
  return html`
    <section class="panel" aria-labelledby="am-title">
      <h2 id="am-title">Alertmanager</h2>
      ${view.error ? html`<p class="error">${view.error}</p>` : null}
      ${!view.error && !view.alerts.length ? html`<p class="muted">No active alerts.</p>` : null}
      <ul class="checks">
        ${view.alerts.map((a) => html`
          <li class="firing" key=${a.name + a.since}>
            <span class="state">${a.severity}</span><span>${a.name}</span><span class="detail">${a.summary}</span>
          </li>`)}
      </ul>
    </section>`;
}

function System({ data }) {
  const lim = data.limiter;
  return html`
    <div class="split">
      <section class="panel" aria-labelledby="bus-title">
        <h2 id="bus-title">Event bus consumers</h2>
        <dl class="kv">
          ${data.lag.map((r) => html`
            <dt key=${r.group + r.topic + r.partition}>${r.group} · ${r.topic}[${r.partition}]</dt>
            <dd>${r.events} events behind</dd>`)}
        </dl>
      </section>
      <section class="panel" aria-labelledby="res-title">
        <h2 id="res-title">Breakers and admission</h2>
        <dl class="kv">
          ${data.breakers.map((b) => html`<dt key=${b.name}>breaker ${b.name}</dt><dd data-testid="breaker-state">${b.state.replace("_", " ")}</dd>`)}
          ${lim ? html`
            <dt>limiter ${lim.name}</dt>
            <dd data-testid="limiter">${lim.inflight} in flight of ${lim.limit}; ${lim.rejections} rejected</dd>` : html`<dt>limiter</dt><dd>off</dd>`}
        </dl>
      </section>
    </div>`;
}

function Board({ auth, onSignOut }) {
  const { state, data, points } = useFigures(auth, onSignOut);
  const stateText = { connecting: "Connecting…", live: "Live", offline: "Reconnecting…", forbidden: "No access" }[state];

  if (state === "forbidden") {
    return html`
      <main class="login card stack">
        <h1>Supervisor dashboard</h1>
        <p role="alert" data-testid="forbidden">The account ${auth.id} may not see the dashboard.</p>
        <button class="ghost" onClick=${onSignOut}>Sign out</button>
      </main>`;
  }

  const f = data?.figures;
  const agents = data?.agents;
  const groups = data?.groups ?? [];
  const checks = data?.checks ?? [];
  const firing = (name) => checks.some((c) => c.name === name && c.firing);
  const windowNote = data ? `last ${Math.round(Math.min(data.window_s, f.covered_s))} s` : "";
  return html`
    <header class="dash-head">
      <h1 class="grow">Supervisor dashboard</h1>
      <span class=${`stream-state ${state}`} data-testid="stream-state" data-state=${state} role="status">${stateText}</span>
      <span class="muted who">${auth.id}</span>
      <button class="ghost" onClick=${onSignOut}>Sign out</button>
    </header>
    <main class="dash">
      <section aria-labelledby="figures-title">
        <h2 id="figures-title" class="sr-only">Figures</h2>
        <dl class="tiles">
          <${Tile} id="fig-contacts-rate" label="Contacts / s" sub=${data ? `last ${data.rate_window_s} s` : ""} value=${fixed(f?.contacts_per_s, 2)} />
          <${Tile} id="fig-contacts-total" label="Contacts since start" value=${f ? String(f.contacts_total) : dash} />
          <${Tile} id="fig-connect-rate" label="Connect rate" sub=${windowNote} value=${percent(f?.connect_rate)} bad=${firing("KefuConnectRateLow")} />
          <${Tile} id="fig-open-p99" label="Contact open p99" sub=${windowNote} value=${millis(f?.open_p99_s)} bad=${firing("KefuContactOpenSlow")} />
          <${Tile} id="fig-agents" label="Agents online" sub=${agents ? `load ${agents.load} / ${agents.capacity}` : ""} value=${agents ? String(agents.online) : dash} bad=${firing("KefuNoAgentOnline")} />
          <${Tile} id="fig-queued" label="Customers queued" value=${data ? String(groups.reduce((n, g) => n + g.queue_depth, 0)) : dash} bad=${firing("KefuQueueWaitLong")} />
          <${Tile} id="fig-lag" label="Consumer lag (max)" value=${data ? String(data.max_lag_events) : dash} bad=${firing("KefuBusConsumerLagHigh")} />
          <${Tile} id="fig-firing" label="Local checks firing" value=${data ? String(checks.filter((c) => c.firing).length) : dash} bad=${checks.some((c) => c.firing)} />
        </dl>
      </section>
      <section class="charts" aria-label="Charts of the last five minutes">
        <${Chart} title="Contacts per second" column=${1} unit="" color="#0b57d0" points=${points} />
        <${Chart} title="Contact open p99" column=${2} unit=" ms" color="#b42318" points=${points} />
        <${Chart} title="Customers queued" column=${3} unit="" color="#1a7f37" points=${points} />
      </section>
      <${Groups} groups=${groups} />
      <${Checks} checks=${checks} />
      ${data ? html`<${System} data=${data} />` : null}
      ${data ? html`<${Alertmanager} view=${data.alertmanager} />` : null}
    </main>`;
}

function App() {
  const [auth, setAuth] = useState(savedAuth);
  const login = (next) => { saveAuth(next); setAuth(next); };
  const signOut = () => { saveAuth(null); setAuth(null); };
  return auth ? html`<${Board} auth=${auth} onSignOut=${signOut} />` : html`<${Login} onLogin=${login} />`;
}

render(html`<${App} />`, document.getElementById("app"));
