// The https relay page's forwarding rule (relay/relay.js).
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain script shipped as-is for companies to host.
import { deepLinkFor } from "../../../relay/relay.js";

describe("relay", () => {
  it("forwards the OAuth answer to the deep link and nothing else", () => {
    expect(deepLinkFor("?code=abc&state=xyz&site_id=42&utm_source=mail")).toBe(
      "onramp://oauth/callback?code=abc&state=xyz&site_id=42",
    );
    expect(deepLinkFor("?error=access_denied&error_description=User+denied&state=s")).toBe(
      "onramp://oauth/callback?state=s&error=access_denied&error_description=User+denied",
    );
  });

  it("forwards Derapi's codeless answer and the issuer", () => {
    expect(deepLinkFor("?state=s1&enrollmentID=enr-7")).toBe("onramp://oauth/callback?state=s1&enrollmentID=enr-7");
    expect(deepLinkFor("?code=a&state=b&iss=https%3A%2F%2Fas.example")).toBe(
      "onramp://oauth/callback?code=a&state=b&iss=https%3A%2F%2Fas.example",
    );
  });

  it("forwards nothing without an answer", () => {
    expect(deepLinkFor("")).toBeNull();
    expect(deepLinkFor("?state=")).toBeNull();
    expect(deepLinkFor("?utm_source=mail")).toBeNull();
  });
});
