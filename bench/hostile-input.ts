import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyseDeployment, parseRuleOverridesText } from '../src/rules/index';
import { parseJsonText } from '../src/rules/json-text';
import { MAX_MODULE_MANIFEST_BYTES } from '../src/sources/manifest/index';

/**
 * `npm run bench -- hostile-input`: the cost of hostile manifests (docs/security.md), as ratios to a
 * real manifest of the corpus analysed in the same run, and how time grows with the module count
 * (×2 per doubling is linear; the module search per string made it ×4), and the peak memory (RSS)
 * of `edgeguard scan` and of the module's manifest reader per input size, above a bare node.
 */

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- generated manifests are free-form JSON

function corpusManifest(): string {
  const dir = path.resolve(__dirname, '..', '..', '..', 'shared', 'corpus', 'manifests');
  const name = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()[0]!;
  return readFileSync(path.join(dir, name), 'utf8');
}

function deployment(modules: Doc, template = false): Doc {
  return {
    ...(template ? { '$schema-template': '4.0.0' } : {}),
    modulesContent: {
      $edgeAgent: { 'properties.desired': { schemaVersion: '1.1', runtime: { type: 'docker', settings: {} }, systemModules: {}, modules } },
      $edgeHub: { 'properties.desired': { schemaVersion: '1.2', routes: {} } },
    },
  };
}

function module(extra: Doc = {}): Doc {
  return { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: 'example.azurecr.io/m:1.0', createOptions: '{"HostConfig":{"Memory":1}}' }, ...extra };
}

/** `word` with the letters whose bit is set in `n` upper-cased. */
function caseVariant(word: string, n: number): string {
  return [...word].map((c, i) => ((n >> i) & 1 ? c.toUpperCase() : c)).join('');
}

/** Median milliseconds of `runs` analyses (parse + every rule; positions are found later, for findings only). */
function timeAnalysis(text: string, runs: number, overrides?: ReturnType<typeof parseRuleOverridesText>): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    analyseDeployment(parseJsonText(text, { comments: true }).value, { overrides });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

/** Prints the process's peak RSS (kB) on stderr when it exits; loaded before the measured program. */
const PEAK_RSS = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\npeak-rss-kb "+process.resourceUsage().maxRSS+"\\n"))';
const DIST = path.resolve(__dirname, '..');

/** Wall time and peak RSS (MiB) of a node process running `args`. */
function measureProcess(args: string[], cwd: string): { ms: number; peakMiB: number } {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--import', PEAK_RSS, ...args], { cwd, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const kb = /peak-rss-kb (\d+)/.exec(r.stderr ?? '')?.[1];
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')}: exit ${r.status}: ${(r.stderr ?? '').slice(0, 300)}`);
  if (!kb) throw new Error(`${args.join(' ')}: no peak RSS reported`);
  return { ms, peakMiB: Number(kb) / 1024 };
}

/** Peak RSS of `edgeguard scan` (each format) and of the module's reader on one manifest, above a bare node. */
function printPeaks(label: string, text: string, dir: string, bare: number): void {
  const file = path.join(dir, 'input.json');
  writeFileSync(file, text);
  const mib = (text.length / 1024 / 1024).toFixed(1);
  for (const format of ['json', 'sarif', 'text']) {
    const m = measureProcess([path.join(DIST, 'src', 'cli', 'main.js'), 'scan', file, '--format', format, '--output', path.join(dir, 'report')], dir);
    console.log(`hostile-input: peak ${label} (${mib} MiB), scan --format ${format}: ${(m.ms / 1000).toFixed(1)} s, peak RSS ${m.peakMiB.toFixed(0)} MiB = bare node + ${(m.peakMiB - bare).toFixed(0)} MiB (${((m.peakMiB - bare) / Number(mib)).toFixed(1)} x the input)`);
  }
  const manifestModule = path.join(DIST, 'src', 'sources', 'manifest', 'index.js');
  if (text.length > MAX_MODULE_MANIFEST_BYTES) {
    console.log(`hostile-input: peak ${label} (${mib} MiB), the module's reader: not measured (over its ${MAX_MODULE_MANIFEST_BYTES / 1024 / 1024} MiB cap, refused unread)`);
    return;
  }
  const reader = `const r = require(${JSON.stringify(manifestModule)}).analyseManifestFile(${JSON.stringify(file)}); if (r.problem) throw new Error(r.problem);`;
  const m = measureProcess(['-e', reader], dir);
  console.log(`hostile-input: peak ${label} (${mib} MiB), the module's reader: ${(m.ms / 1000).toFixed(1)} s, peak RSS ${m.peakMiB.toFixed(0)} MiB = bare node + ${(m.peakMiB - bare).toFixed(0)} MiB (${((m.peakMiB - bare) / Number(mib)).toFixed(1)} x the input)`);
}

export async function run(): Promise<void> {
  const baselineText = corpusManifest();
  const baseline = timeAnalysis(baselineText, 21);
  console.log(`hostile-input: baseline, a corpus manifest (${(baselineText.length / 1024).toFixed(0)} KiB): ${baseline.toFixed(2)} ms per analysis`);

  const cases: Array<[string, string, ReturnType<typeof parseRuleOverridesText>?]> = [
    ['template, 300 KB of "${" without "}"', JSON.stringify(deployment({ m: module({ settings: { image: 'x/y:1', createOptions: `{"Env":["${'${'.repeat(150_000)}"]` } }) }, true))],
    ['env value of 300 KB "a.a.a…" (S04 pattern)', JSON.stringify(deployment({ m: module({ env: { NOTE: { value: 'a.'.repeat(150_000) } } }) }))],
    [
      'rule settings pattern *a*a…*b (20 stars), module named a×60',
      JSON.stringify(deployment({ ['a'.repeat(60)]: module() })),
      parseRuleOverridesText(`rules:\n  I02: { enabled: false, modules: ['${'*a'.repeat(20)}*b'] }\n`),
    ],
    ['HostConfig with 1,000 case variants of "privileged"', JSON.stringify(deployment({ m: module({ settings: { image: 'x/y:1', createOptions: JSON.stringify({ HostConfig: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [caseVariant('privileged', i), i % 2 === 0])) }) } }) }))],
  ];
  for (const [name, text, overrides] of cases) {
    const ms = timeAnalysis(text, 5, overrides);
    console.log(`hostile-input: ${name} (${(text.length / 1024).toFixed(0)} KiB): ${ms.toFixed(1)} ms = ${(ms / baseline).toFixed(0)} x the baseline`);
  }

  const dir = mkdtempSync(path.join(os.tmpdir(), 'edgeguard-bench-hostile-'));
  const bare = measureProcess(['-e', '0'], dir).peakMiB;
  console.log(`hostile-input: peak RSS of a bare node: ${bare.toFixed(0)} MiB`);
  let previous: number | undefined;
  for (const count of [1000, 2000, 4000, 8000]) {
    const modules: Doc = {};
    for (let i = 0; i < count; i++) {
      const env: Doc = {};
      for (let j = 0; j < 40; j++) env[`V${j}`] = { value: `v${j}` };
      modules[`m${i}`] = module({ env });
    }
    const text = JSON.stringify(deployment(modules));
    const ms = timeAnalysis(text, 3);
    console.log(
      `hostile-input: ${count} modules × 40 env values (${(text.length / 1024 / 1024).toFixed(1)} MiB): ${ms.toFixed(0)} ms${previous ? `, × ${(ms / previous).toFixed(2)} for twice the modules (linear: 2)` : ''}`,
    );
    previous = ms;
    if (count === 2000 || count === 4000 || count === 8000) printPeaks(`${count} modules × 40 env values`, text, dir, bare);
  }
  // Findings on every module (not pinned, no limits: seven each), 4 MB as a person would indent it
  // (just under the module's cap).
  const modules: Doc = {};
  for (let i = 0; i < 14_000; i++) modules[`m${i}`] = { type: 'docker', status: 'running', restartPolicy: 'always', settings: { image: `myacr.azurecr.io/sensor:${i}`, createOptions: '{"HostConfig":{}}' } };
  printPeaks('14,000 modules with 98,000 findings', JSON.stringify(deployment(modules), null, 2), dir, bare);
  rmSync(dir, { recursive: true, force: true });
}
