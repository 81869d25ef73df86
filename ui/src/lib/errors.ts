// What an error means for what the installer does next, decided on its code.
import type { ErrorInfo } from "./bindings";

/** Worth trying again as is: the network, the vendor's rate limit, a vendor-side failure. */
export function retryable(e: Pick<ErrorInfo, "code">): boolean {
  return e.code === "RateLimited" || e.code === "Network" || e.code === "VendorError";
}

/** Only the customer signing in again fixes it. */
export function needsCustomer(e: Pick<ErrorInfo, "code">): boolean {
  return e.code === "ReauthRequired" || e.code === "TokenLost";
}
