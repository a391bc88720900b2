/**
 * The bench's printed report: one table per scenario, each figure with its ratio to the baseline
 * (the JSON relay) measured in the same run, the skipped systems and scenarios, and where issue 19's
 * targets stand in this run. Information only: nothing here decides an exit code.
 */
import type { BenchResults, IdleResult, TrafficFigures, TrafficResult } from './run.js';
import { SYSTEM_TITLES, formatBytes, type SystemId } from './scenarios.js';

const n = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';

function ratio(value: number, base: number | undefined): string {
  if (base === undefined || !Number.isFinite(base) || base === 0 || !Number.isFinite(value)) return '';
  return `×${(value / base).toFixed(2)}`;
}

function table(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function trafficTable(results: TrafficResult[], baseline: TrafficFigures | undefined): string {
  const header = ['system', 'req/s', '×', 'p50 ms', '×', 'p99 ms', '×', 'max ms', '×', 'broker µs/req', '×', 'broker RSS MiB', '×', 'broker cpu', 'load cpu', 'errors'];
  const right = header.map((_, i) => i > 0);
  const rows = results.map((result) => {
    const m = result.median;
    if (m === undefined) return [result.system, 'failed', '', '', '', '', '', '', '', '', '', '', '', '', '', ''];
    const mib = m.brokerRssBytes / 2 ** 20;
    return [
      result.system,
      n(m.requestsPerSecond),
      ratio(m.requestsPerSecond, baseline?.requestsPerSecond),
      n(m.p50Ms, 2),
      ratio(m.p50Ms, baseline?.p50Ms),
      n(m.p99Ms, 2),
      ratio(m.p99Ms, baseline?.p99Ms),
      n(m.maxMs, 1),
      ratio(m.maxMs, baseline?.maxMs),
      n(m.brokerCpuUsPerRequest, 1),
      ratio(m.brokerCpuUsPerRequest, baseline?.brokerCpuUsPerRequest),
      n(mib, 1),
      ratio(mib, baseline === undefined ? undefined : baseline.brokerRssBytes / 2 ** 20),
      `${n(m.brokerCpuPercent)}%`,
      `${n(m.loadCpuPercent)}%`,
      n(m.errors),
    ];
  });
  return table(header, rows, right);
}

function idleTable(results: IdleResult[], baseline: IdleResult | undefined): string {
  const header = ['system', 'connected', 'connect s', 'broker RSS MiB', 'KiB per connection', '×'];
  const rows = results.map((r) =>
    r.failure !== undefined && r.connected === 0
      ? [r.system, 'failed', '', '', '', '']
      : [
          r.system,
          n(r.connected) + (r.failed > 0 ? ` (${n(r.failed)} failed)` : ''),
          n(r.connectSeconds, 1),
          `${n(r.baselineRssBytes / 2 ** 20, 1)} → ${n(r.rssBytes / 2 ** 20, 1)}`,
          n(r.bytesPerConnection / 1024, 2),
          ratio(r.bytesPerConnection, baseline?.bytesPerConnection),
        ],
  );
  return table(header, rows, header.map((_, i) => i > 0));
}

type Verdict = { target: string; measured: string; met: boolean | undefined; unsteady?: boolean };

/** The floor's req/s may swing by this factor over a scenario's runs, its p99 by that one, before the scenario counts as unsteady. */
const STEADY_RATE_SPREAD = 1.3;
const STEADY_P99_SPREAD = 1.5;

/**
 * Why a scenario's ratios say less than they seem, or undefined. The floor (the baseline relay) runs the
 * same code in every run, so when its own figures swing widely between runs, the machine's speed changed
 * while the scenario ran (on a shared VM: another tenant), and the systems were not measured alike.
 */
export function unsteadiness(results: BenchResults, scenario: string): string | undefined {
  const floor = results.results.find((r) => r.kind === 'traffic' && r.scenario === scenario && r.system === results.meta.baseline) as
    | TrafficResult
    | undefined;
  if (floor === undefined || floor.runs.length < 2) return undefined;
  const rates = floor.runs.map((run) => run.requestsPerSecond);
  const p99s = floor.runs.map((run) => run.p99Ms);
  const [rateLow, rateHigh, p99Low, p99High] = [Math.min(...rates), Math.max(...rates), Math.min(...p99s), Math.max(...p99s)];
  if (rateHigh <= rateLow * STEADY_RATE_SPREAD && p99High <= p99Low * STEADY_P99_SPREAD) return undefined;
  return (
    `unsteady: ${floor.system} ranged ${n(rateLow)} to ${n(rateHigh)} req/s and ${n(p99Low, 2)} to ${n(p99High, 2)} ms p99 ` +
    `over its ${floor.runs.length} runs; the machine's speed changed during this scenario, so its ratios say less than they seem`
  );
}

/** Issue 19's targets (and issue 7's memory per idle connection), judged on this run's medians. */
export function targets(results: BenchResults): Verdict[] {
  const traffic = (scenario: string, system: SystemId) =>
    (results.results.find((r) => r.kind === 'traffic' && r.scenario === scenario && r.system === system) as TrafficResult | undefined)?.median;
  const idle = (system: SystemId) =>
    results.results.find((r) => r.kind === 'idle' && r.system === system && r.connected > 0) as IdleResult | undefined;
  const verdicts: Verdict[] = [];
  const compare = (scenario: string, what: string, value: number | undefined, base: number | undefined, ok: (ratio: number) => boolean) => {
    const target = `${scenario}: ${what}`;
    if (value === undefined || base === undefined || base === 0) return verdicts.push({ target, measured: 'not measured in this run', met: undefined });
    const r = value / base;
    verdicts.push({ target, measured: `×${r.toFixed(2)}`, met: ok(r), unsteady: unsteadiness(results, scenario) !== undefined });
  };
  const sb = (scenario: string) => traffic(scenario, 'switchboard');
  const base = (scenario: string) => traffic(scenario, 'relay-json');
  compare('small', 'switchboard req/s ≥ 2.5 × relay-json', sb('small')?.requestsPerSecond, base('small')?.requestsPerSecond, (r) => r >= 2.5);
  compare('small', 'switchboard req/s ≥ 3 × NATS', sb('small')?.requestsPerSecond, traffic('small', 'nats')?.requestsPerSecond, (r) => r >= 3);
  compare('small', 'switchboard broker CPU/request ≤ NATS', sb('small')?.brokerCpuUsPerRequest, traffic('small', 'nats')?.brokerCpuUsPerRequest, (r) => r <= 1);
  compare('serial', 'switchboard req/s ≥ relay-json', sb('serial')?.requestsPerSecond, base('serial')?.requestsPerSecond, (r) => r >= 1);
  compare('serial', 'switchboard p99 ≤ 1.1 × relay-json', sb('serial')?.p99Ms, base('serial')?.p99Ms, (r) => r <= 1.1);
  compare('serial', 'switchboard broker CPU/request ≤ relay-json', sb('serial')?.brokerCpuUsPerRequest, base('serial')?.brokerCpuUsPerRequest, (r) => r <= 1);
  const serialLarge = sb('serial-large');
  compare('serial-large', 'switchboard broker CPU/request ≤ 0.7 × relay-json', serialLarge?.brokerCpuUsPerRequest, base('serial-large')?.brokerCpuUsPerRequest, (r) => r <= 0.7);
  compare('serial-large', 'switchboard req/s ≥ NATS', serialLarge?.requestsPerSecond, traffic('serial-large', 'nats')?.requestsPerSecond, (r) => r >= 1);
  compare('serial-large', 'switchboard req/s ≥ socketio', serialLarge?.requestsPerSecond, traffic('serial-large', 'socketio')?.requestsPerSecond, (r) => r >= 1);
  compare('large', 'switchboard req/s ≥ 0.9 × relay-inplace', sb('large')?.requestsPerSecond, traffic('large', 'relay-inplace')?.requestsPerSecond, (r) => r >= 0.9);
  compare('small', 'switchboard broker RSS under load ≤ 1.15 × relay-json', sb('small')?.brokerRssBytes, base('small')?.brokerRssBytes, (r) => r <= 1.15);
  // A fresh broker's RSS: the idle scenario's reading before any connection (after a garbage collection).
  compare('idle', 'switchboard broker RSS after start ≤ 1.15 × relay-json', idle('switchboard')?.baselineRssBytes, idle('relay-json')?.baselineRssBytes, (r) => r <= 1.15);
  const monitored = traffic('small', 'switchboard-monitored')?.requestsPerSecond; // judged only when it ran
  if (monitored !== undefined) compare('small', 'switchboard-monitored req/s ≥ 0.95 × switchboard', monitored, sb('small')?.requestsPerSecond, (r) => r >= 0.95);
  const dashboard = traffic('small', 'switchboard-dashboard')?.requestsPerSecond; // judged only when it ran
  if (dashboard !== undefined) compare('small', 'switchboard-dashboard req/s ≥ 0.95 × switchboard', dashboard, sb('small')?.requestsPerSecond, (r) => r >= 0.95);
  const idleSb = idle('switchboard');
  verdicts.push(
    idleSb === undefined
      ? { target: 'idle: switchboard broker memory < 15 KiB per connection', measured: 'not measured in this run', met: undefined }
      : {
          target: 'idle: switchboard broker memory < 15 KiB per connection',
          measured: `${(idleSb.bytesPerConnection / 1024).toFixed(2)} KiB`,
          met: idleSb.bytesPerConnection < 15 * 1024,
        },
  );
  return verdicts;
}

export function report(results: BenchResults): string {
  const { meta } = results;
  const o = meta.options;
  const out: string[] = [];
  out.push(
    `switchboard bench · ${meta.date} · node ${meta.node} · ${meta.cpus} · ${meta.memoryGiB} GiB · ` +
      `load average ${meta.loadAverageStart[0]?.toFixed(2)} at start, ${meta.loadAverageEnd[0]?.toFixed(2)} at end`,
  );
  out.push(`command: ${meta.command}${meta.commit === undefined ? '' : ` · commit ${meta.commit}`}`);
  out.push(
    `${o.requesters} requesters and ${o.responders} responders in one load process, each broker in its own process · ` +
      `${o.durationS} s measured after ${o.warmupS} s of warm-up · ${o.runs === 1 ? '1 run' : `median of ${o.runs} runs`} · ` +
      `× = ratio to ${meta.baseline} in this run · broker cpu and load cpu in % of one core`,
  );
  for (const scenario of o.scenarios as Array<{ id: string; title: string; kind: string }>) {
    const rows = results.results.filter((r) => r.scenario === scenario.id);
    if (rows.length === 0) continue;
    out.push('', `${scenario.id}: ${scenario.title}`);
    if (scenario.kind === 'traffic') {
      const traffic = rows as TrafficResult[];
      out.push(trafficTable(traffic, traffic.find((r) => r.system === meta.baseline)?.median));
      const unsteady = unsteadiness(results, scenario.id);
      if (unsteady !== undefined) out.push(`  ${unsteady}`);
      for (const failed of traffic.filter((r) => r.failure !== undefined)) out.push(`  ${failed.system} failed: ${failed.failure}`);
    } else {
      const idle = rows as IdleResult[];
      out.push(idleTable(idle, idle.find((r) => r.system === meta.baseline)));
      for (const failed of idle.filter((r) => r.failure !== undefined)) out.push(`  ${failed.system} failed: ${failed.failure}`);
    }
  }
  if (results.skipped.length > 0) {
    out.push('');
    for (const skip of results.skipped) {
      const what = skip.scenario === undefined ? skip.system : skip.system === undefined ? skip.scenario : `${skip.system} in ${skip.scenario}`;
      out.push(`skipped: ${what}: ${skip.reason}`);
    }
  }
  const drivers = new Map<string, string>();
  for (const r of results.results) if (r.driver !== '') drivers.set(r.system, r.driver);
  if (drivers.size > 0) {
    out.push('', 'systems and what drove them:');
    for (const [system, driver] of drivers) out.push(`  ${system.padEnd(16)} ${SYSTEM_TITLES[system as SystemId]} (load: ${driver})`);
  }
  const payloads = new Set((o.scenarios as Array<{ payloadBytes?: number }>).flatMap((s) => (s.payloadBytes === undefined ? [] : [s.payloadBytes])));
  if (payloads.size > 0) {
    const shape = o.payloadShape === 'string' ? 'one JSON string' : 'a JSON object (small records padded with a string)';
    out.push(`  payload: ${shape} of ${[...payloads].map(formatBytes).join(' or ')}; every answer echoes it`);
  }
  const verdicts = targets(results).filter((v) => v.met !== undefined);
  if (verdicts.length > 0) {
    out.push('', 'issue 19 targets, on this run (information, not a test):');
    for (const v of verdicts) {
      out.push(`  ${v.met ? 'met    ' : 'not met'}  ${v.target}: ${v.measured}${v.unsteady === true ? ' (unsteady: see its table)' : ''}`);
    }
  }
  for (const profile of results.profiles) out.push('', `top self time, ${profile.file}:`, profile.top);
  out.push('', `raw results: ${o.jsonPath} · ${meta.elapsedSeconds.toFixed(0)} s in all`);
  return `${out.join('\n')}\n`;
}

/** The same figures as Markdown tables (for the README's performance section). */
export function markdown(results: BenchResults): string {
  const { meta } = results;
  const o = meta.options;
  const cell = (value: number, digits: number, base: number | undefined) => {
    const r = ratio(value, base);
    return r === '' ? n(value, digits) : `${n(value, digits)} (${r})`;
  };
  const out: string[] = [
    `Measured ${meta.date.slice(0, 16).replace('T', ' ')} UTC on ${meta.cpus}, ${meta.memoryGiB} GiB, Node ${meta.node}` +
      `${meta.commit === undefined ? '' : `, commit ${meta.commit}`}; load average ${meta.loadAverageStart[0]?.toFixed(1)} at the start, ` +
      `${meta.loadAverageEnd[0]?.toFixed(1)} at the end. \`${meta.command}\`: ${o.requesters} requesters and ${o.responders} responders in one ` +
      `load process, each broker in its own process, ${o.durationS} s measured after ${o.warmupS} s of warm-up, ` +
      `${o.runs === 1 ? 'one run' : `median of ${o.runs} runs`}; (×) is the ratio to ${meta.baseline} in the same run.`,
  ];
  for (const scenario of o.scenarios as Array<{ id: string; title: string; kind: string }>) {
    const rows = results.results.filter((r) => r.scenario === scenario.id);
    if (rows.length === 0) continue;
    out.push('', `**${scenario.id}**: ${scenario.title}`, '');
    if (scenario.kind === 'traffic') {
      const base = (rows as TrafficResult[]).find((r) => r.system === meta.baseline)?.median;
      out.push('| system | req/s | p50 ms | p99 ms | max ms | broker µs/request | broker RSS MiB | broker / load CPU |');
      out.push('|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const r of rows as TrafficResult[]) {
        const m = r.median;
        if (m === undefined) {
          out.push(`| ${r.system} | failed | | | | | | |`);
          continue;
        }
        out.push(
          `| ${r.system} | ${cell(m.requestsPerSecond, 0, base?.requestsPerSecond)} | ${cell(m.p50Ms, 2, base?.p50Ms)} | ` +
            `${cell(m.p99Ms, 2, base?.p99Ms)} | ${cell(m.maxMs, 1, base?.maxMs)} | ${cell(m.brokerCpuUsPerRequest, 1, base?.brokerCpuUsPerRequest)} | ` +
            `${cell(m.brokerRssBytes / 2 ** 20, 0, base === undefined ? undefined : base.brokerRssBytes / 2 ** 20)} | ` +
            `${n(m.brokerCpuPercent)}% / ${n(m.loadCpuPercent)}% |`,
        );
      }
      const unsteady = unsteadiness(results, scenario.id);
      if (unsteady !== undefined) out.push('', `${unsteady[0].toUpperCase()}${unsteady.slice(1)}.`);
    } else {
      const base = (rows as IdleResult[]).find((r) => r.system === meta.baseline);
      out.push('| system | connected | broker RSS MiB | KiB per connection |', '|---|---:|---:|---:|');
      for (const r of rows as IdleResult[]) {
        out.push(
          r.connected === 0
            ? `| ${r.system} | failed | | |`
            : `| ${r.system} | ${n(r.connected)} | ${n(r.baselineRssBytes / 2 ** 20, 0)} → ${n(r.rssBytes / 2 ** 20, 0)} | ` +
                `${cell(r.bytesPerConnection / 1024, 1, base === undefined ? undefined : base.bytesPerConnection / 1024)} |`,
        );
      }
    }
  }
  const skipped = results.skipped.map((s) => `${s.system ?? ''}${s.system !== undefined && s.scenario !== undefined ? ' in ' : ''}${s.scenario ?? ''}: ${s.reason}`);
  if (skipped.length > 0) out.push('', `Skipped: ${skipped.join('; ')}.`);
  return `${out.join('\n')}\n`;
}
