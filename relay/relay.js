// Onramp sign-in relay: forwards a vendor's https redirect to the Onramp app's deep link.
// Only the OAuth answer is passed on (code, state, errors, the issuer and the vendor extras
// Onramp reads); nothing is stored or sent anywhere else. index.html loads this file as its only
// script (its Content-Security-Policy allows no inline script).
const PASS = [
  "code",
  "state",
  "error",
  "error_description",
  "iss", // RFC 9207: the authorization server that answered
  "issuer", // Tesla's name for the same
  "site_id",
  "external_id",
  "enrollmentID",
];

/** The onramp:// link for a redirect's query string, or null when it carries no OAuth answer.
 * An answer is a code, an error, or a state alone (Derapi Join comes back with the state and
 * an enrollmentID, no code): Onramp decides with the pending sign-in whether it is acceptable. */
export function deepLinkFor(search) {
  const incoming = new URLSearchParams(search);
  const out = new URLSearchParams();
  for (const key of PASS) {
    const value = incoming.get(key);
    if (value !== null && value.length <= 2048) out.set(key, value);
  }
  if (!out.has("code") && !out.has("error") && !out.get("state")) return null;
  return "onramp://oauth/callback?" + out.toString();
}

/** On the relay page: hand the answer on, or say there is nothing to hand on. */
function start(doc, location) {
  const open = doc.getElementById("open");
  const link = deepLinkFor(location.search);
  if (link) {
    open.href = link;
    location.replace(link);
  } else {
    doc.getElementById("title").textContent = "Nothing to hand back";
    doc.getElementById("what").textContent =
      "This address carries no sign-in answer. Start the connection again from Onramp.";
    open.remove();
  }
}

if (typeof document !== "undefined" && document.getElementById("open")) {
  start(document, window.location);
}
