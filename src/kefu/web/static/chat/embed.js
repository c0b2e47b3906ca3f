// kefu widget loader for host pages.
//
//   <script src="https://kefu.example/chat/embed.js" async
//           data-token-endpoint="/api/kefu-token"></script>
//
// Adds a "Customer service" button; the button opens kefu's /chat page in an
// iframe.  The widget asks for a customer token by postMessage; this script
// answers with data-token, or with the token that a POST to
// data-token-endpoint returns ({"token": "..."}; cookies are sent), and only
// ever posts it to kefu's own origin.  A classic script with no globals
// besides window.kefuWidget, so it runs on any host page.
(function () {
  "use strict";

  const script = document.currentScript;
  if (!script || window.kefuWidget) return;

  // Read the settings from the script tag.
  const kefuOrigin = new URL(script.src, location.href).origin;
  const options = {
    token: script.dataset.token || "",
    tokenEndpoint: script.dataset.tokenEndpoint || "",
    channel: script.dataset.channel || "app",
    orderId: script.dataset.orderId || "",
    label: script.dataset.label || "",
  };
  const zh = (navigator.language || "").toLowerCase().startsWith("zh");
  const label = options.label || (zh ? "在线客服" : "Customer service");

  let panel = null;
  let frame = null;
  const button = launcher();

  /** The token for the widget: the fixed one, or a fresh one from the host. */
  async function customerToken() {
    if (options.token) return options.token;
    const response = await fetch(options.tokenEndpoint, {
      method: "POST",
      credentials: "include",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error("token endpoint answered " + response.status);
    const body = await response.json();
    return body.token;
  }

  // Answer the widget's token requests, and nothing from anywhere else.
  window.addEventListener("message", async (event) => {
    if (!frame || event.source !== frame.contentWindow) return;
    if (event.origin !== kefuOrigin) return;
    if (!event.data || event.data.type !== "kefu:token-request") return;
    try {
      const token = await customerToken();
      frame.contentWindow.postMessage({ type: "kefu:token", token }, kefuOrigin);
    } catch (err) {
      console.warn("kefu: no customer token", err);
    }
  });

  /** The round button that opens and closes the panel. */
  function launcher() {
    const el = document.createElement("button");
    el.type = "button";
    el.textContent = label;
    el.setAttribute("aria-expanded", "false");
    el.setAttribute("data-kefu", "launcher");
    Object.assign(el.style, {
      position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483646",
      padding: "12px 18px", border: "0", borderRadius: "24px", cursor: "pointer",
      background: "#0b57d0", color: "#fff", font: "600 15px system-ui, sans-serif",
      boxShadow: "0 4px 16px rgba(0,0,0,.25)",
    });
    el.addEventListener("click", () => (panel && panel.style.display !== "none" ? close() : open()));
    document.body.appendChild(el);
    return el;
  }

  /** Show the panel, creating the iframe on first use. */
  function open() {
    if (!panel) {
      panel = document.createElement("div");
      panel.setAttribute("data-kefu", "panel");
      const small = window.matchMedia("(max-width: 480px)").matches;
      Object.assign(panel.style, {
        position: "fixed", zIndex: "2147483647", background: "#fff", overflow: "hidden",
        boxShadow: "0 8px 32px rgba(0,0,0,.3)",
        ...(small
          ? { inset: "0" }
          : { right: "20px", bottom: "80px", width: "380px", height: "620px",
              maxHeight: "calc(100vh - 100px)", borderRadius: "12px" }),
      });
      frame = document.createElement("iframe");
      const query = new URLSearchParams({ embed: "1", channel: options.channel });
      if (options.orderId) query.set("order_id", options.orderId);
      frame.src = kefuOrigin + "/chat?" + query.toString();
      frame.title = label;
      Object.assign(frame.style, { border: "0", width: "100%", height: "100%" });
      panel.appendChild(frame);
      if (small) panel.appendChild(closeButton());
      document.body.appendChild(panel);
    }
    panel.style.display = "block";
    button.setAttribute("aria-expanded", "true");
    frame.focus();
  }

  /** A close button over the full-screen panel on phones. */
  function closeButton() {
    const el = document.createElement("button");
    el.type = "button";
    el.textContent = "×";
    el.setAttribute("aria-label", zh ? "关闭客服" : "Close customer service");
    Object.assign(el.style, {
      position: "absolute", top: "8px", right: "56px", width: "36px", height: "36px",
      border: "0", borderRadius: "18px", background: "rgba(255,255,255,.2)",
      color: "#fff", font: "24px/36px system-ui, sans-serif", cursor: "pointer",
    });
    el.addEventListener("click", close);
    return el;
  }

  function close() {
    if (panel) panel.style.display = "none";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }

  window.kefuWidget = { open, close };
})();
