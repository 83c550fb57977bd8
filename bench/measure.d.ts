// Types for measure.js (plain JavaScript so bench/startup.js runs without a TypeScript loader).
export interface Sample {
  wall: number[];
  cpu: number[];
  inner: number[];
}
export interface Variant {
  argv: string[];
  env?: Record<string, string>;
  expect?: number;
  inner?: (stdout: string) => number;
}
export function childrenCpuMs(): number;
export function measure(argv: string[], env?: Record<string, string>): {wall: number; cpu: number; status: number | null; stdout: string};
export function median(xs: number[]): number;
export function mean(xs: number[]): number;
export function runInterleaved(variants: Record<string, Variant>, runs: number): Record<string, Sample>;
export function report(samples: Record<string, Sample>, baseline: string): void;
