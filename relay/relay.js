// Onramp sign-in relay: forwards a vendor's https redirect to the Onramp app's deep link.
// Only the OAuth answer is passed on (code, state, errors and the vendor extras Onramp reads);
// nothing is stored or sent anywhere else.
const PASS = ["code", "state", "error", "error_description", "site_id", "external_id", "enrollmentID"];

/** The onramp:// link for a redirect's query string, or null when it carries no OAuth answer. */
export function deepLinkFor(search) {
  const incoming = new URLSearchParams(search);
  const out = new URLSearchParams();
  for (const key of PASS) {
    const value = incoming.get(key);
    if (value !== null && value.length <= 2048) out.set(key, value);
  }
  if (!out.has("code") && !out.has("error")) return null;
  return "onramp://oauth/callback?" + out.toString();
}
