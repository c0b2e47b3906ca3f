// Tokens for the framed widget, asked of the host page through postMessage.
//
// The widget asks its parent ({type: "kefu:token-request"}) and accepts a
// {type: "kefu:token", token} only from that same parent window.  The
// parent's origin is checked by the browser: kefu serves /chat with a
// frame-ancestors policy listing the allowed host origins.

/** Milliseconds to wait for the host page to answer a token request. */
const HOST_TOKEN_TIMEOUT_MS = 15000;

export function hostTokenSource() {
  let latest = null;
  const waiters = [];

  // Collect token messages from the parent window only.
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data) return;
    const { type, token } = event.data;
    if (type !== "kefu:token" || typeof token !== "string" || !token) return;
    latest = token;
    while (waiters.length) waiters.shift().resolve(token);
  });

  /** The current token, or a fresh one from the host when refresh is true. */
  function get(refresh) {
    if (latest && !refresh) return Promise.resolve(latest);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      waiters.push(waiter);
      // The request carries no secret, so any target origin is fine.
      window.parent.postMessage({ type: "kefu:token-request" }, "*");
      setTimeout(() => {
        const index = waiters.indexOf(waiter);
        if (index >= 0) {
          waiters.splice(index, 1);
          reject(new Error("the host page sent no token"));
        }
      }, HOST_TOKEN_TIMEOUT_MS);
    });
  }

  return { get };
}
