// Random ids for client_msg_id, usable outside secure contexts too.

/** A 128-bit random id as 32 hex characters. */
export function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
