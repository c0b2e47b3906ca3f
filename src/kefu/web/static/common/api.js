// Thin client for kefu's HTTP API: JSON in, JSON out, errors as ApiError.

/** An error answer of the API: HTTP status plus kefu's error code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Call the API and return the decoded JSON body.
 * @param {string} method  HTTP method
 * @param {string} path    path under the page's own origin, e.g. "/v1/contacts"
 * @param {{token?: string, body?: unknown}} options
 */
export async function api(method, path, { token, body } = {}) {
  // Build the request: JSON body and bearer token when given.
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  } catch (err) {
    throw new ApiError(0, "network_error", String(err && err.message));
  }
  // Decode the body; kefu's errors are {"error": {"code", "message"}}.
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(
      response.status,
      error.code || "http_error",
      error.message || response.statusText,
    );
  }
  return data;
}
