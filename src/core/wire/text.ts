/** Small text helpers shared by the codecs' failure reasons and by describeFrame. Internal to wire/. */

/** Reason for input shorter than a layout needs, e.g. `truncated TCP header: 12 bytes, need 20`. */
export function truncated(what: string, need: number, have: number): string {
  return `truncated ${what}: ${have} bytes, need ${need}`;
}

/** `0x0800`-style hex, zero-padded to `digits`. */
export function hex(value: number, digits = 4): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}
