/**
 * Time as every layer sees it: milliseconds on a monotonic clock (performance.now() in production, scripted
 * time in tests). A type of its own, so the sans-IO engine needs nothing from the I/O layers.
 */
export type Millis = number;
