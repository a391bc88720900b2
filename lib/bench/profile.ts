/**
 * Reading a V8 CPU profile (`node --cpu-prof`): self time per function over the measured window only
 * (start-up and shutdown left out), the biggest first, so that a run with `--cpu-prof DIR` says at once
 * where the broker's per-frame path spends its time. A profile's timestamps are microseconds of the
 * monotonic clock, the one `process.hrtime` reads, so the bench's window applies to it directly.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A span of the monotonic clock, in microseconds (`process.hrtime.bigint() / 1000n`). */
export interface Window {
  startUs: number;
  endUs: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  /** Share of the busy (not idle) time. */
  percent: number;
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  functions: SelfTime[];
}

const IDLE = '(idle)';

/** Self time by function (name and location) within `window` (all of it when absent), largest first. */
export function selfTimes(profile: CpuProfile, window?: Window): ProfileSummary {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, { name: string; where: string; us: number }>();
  let busyUs = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (window !== undefined && (at < window.startUs || at > window.endUs)) continue;
    first = Math.min(first, at);
    last = Math.max(last, at);
    const node = byNode.get(profile.samples[i]);
    if (node === undefined || us <= 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === IDLE) continue;
    busyUs += us;
    const where = url === '' ? '' : `${shorten(url)}:${lineNumber + 1}`;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const key = `${name} ${where}`;
    const entry = totals.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    totals.set(key, entry);
  }
  const functions = [...totals.values()]
    .sort((a, b) => b.us - a.us)
    .map(({ name, where, us }) => ({ name, where, ms: us / 1000, percent: busyUs === 0 ? 0 : (us * 100) / busyUs }));
  return { windowMs: last > first ? (last - first) / 1000 : 0, busyMs: busyUs / 1000, functions };
}

function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const at = path.lastIndexOf('/node_modules/');
  if (at !== -1) return path.slice(at + '/node_modules/'.length);
  const dist = path.lastIndexOf('/dist/');
  if (dist !== -1) return path.slice(dist + 1);
  return path;
}

/** The top `count` functions by self time of the profile in `file`, as text lines. */
export function summarizeProfile(file: string, count: number, window?: Window): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const summary = selfTimes(profile, window);
  const head = `  busy ${summary.busyMs.toFixed(0)} ms of ${summary.windowMs.toFixed(0)} ms${window === undefined ? '' : ' (measured window only)'}; self time, share of busy time:`;
  const lines = summary.functions
    .slice(0, count)
    .map((entry) => `  ${entry.percent.toFixed(1).padStart(5)}%  ${entry.ms.toFixed(0).padStart(6)} ms  ${entry.name}  ${entry.where}`);
  return [head, ...lines].join('\n');
}
