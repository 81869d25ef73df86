// A key's shape as its vendor issues it (FieldSpec.shape): said at the field as soon as the
// installer leaves it, in the words the backend uses when it refuses the same key.
import type { FieldSpec } from "./bindings";

const characters = (n: number) => `${n} character${n === 1 ? "" : "s"}`;

/** What is wrong with `value` for this field (null: nothing, or nothing typed yet). */
export function shapeProblem(spec: FieldSpec, provider: string, value: string | undefined): string | null {
  const v = (value ?? "").trim();
  if (!v) return null;
  const { chars, min_len, max_len } = spec.shape;
  const label = spec.label;
  if ([...v].some((c) => /\s|\p{Cc}/u.test(c))) {
    return `That does not look like a ${provider} ${label}: it has spaces or line breaks.`;
  }
  const allowed = chars === "digits" ? /^[0-9]+$/ : chars === "token" ? /^[A-Za-z0-9._-]+$/ : /^/;
  if (!allowed.test(v)) {
    return `A ${provider} ${label} is made of ${chars === "digits" ? "digits only" : "letters and digits only"}.`;
  }
  const n = [...v].length;
  if (n < min_len || n > max_len) {
    const short = n < min_len;
    const want = min_len === max_len ? characters(min_len) : short ? `at least ${characters(min_len)}` : `at most ${characters(max_len)}`;
    return `That ${provider} ${label} is too ${short ? "short" : "long"}: it has ${characters(n)}; a ${label} has ${want}.`;
  }
  return null;
}
