/**
 * Small statistics for the benchmark: latency percentiles of one run, medians over runs.
 */
export interface LatencySummary {
  /** Milliseconds. */
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles (nearest rank) of latency samples in milliseconds; zeros when there are none. */
export function summarize(samples: Float64Array): LatencySummary {
  if (samples.length === 0) return { p50: 0, p99: 0, max: 0, mean: 0 };
  const sorted = Float64Array.from(samples).sort();
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  let sum = 0;
  for (const value of sorted) sum += value;
  return { p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1], mean: sum / sorted.length };
}

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
