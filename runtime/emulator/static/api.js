// The emulator's JSON API (/emulator/api, served by the bot's own server): one request at a time.

export const API = "/emulator/api";

/** GET `path` (no body) or POST `body` as JSON; the answer's JSON. A refusal is an Error
 * saying what the server said. */
export async function api(path, body) {
  const response = await fetch(API + path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (!response.ok) throw new Error(`${path}: ${await problem(response)}`);
  return response.json();
}

/** What a refused request says: its `{"error": ...}`, else its status and first words. */
export async function problem(response) {
  const text = await response.text();
  try {
    const error = JSON.parse(text).error;
    if (typeof error === "string") return error;
  } catch {
    // not JSON: a proxy's page, a crash
  }
  return `HTTP ${response.status} ${text.slice(0, 200)}`;
}
