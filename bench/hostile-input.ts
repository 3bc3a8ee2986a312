import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { analyseDeployment, parseRuleOverridesText } from '../src/rules/index';
import { parseJsonText } from '../src/rules/json-text';

/**
 * `npm run bench -- hostile-input`: the cost of hostile manifests (docs/security.md), as ratios to a
 * real manifest of the corpus analysed in the same run, and how time grows with the module count
 * (×2 per doubling is linear; the module search per string made it ×4).
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

/** Median milliseconds of `runs` analyses (parse with positions + every rule). */
function timeAnalysis(text: string, runs: number, overrides?: ReturnType<typeof parseRuleOverridesText>): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    analyseDeployment(parseJsonText(text, { positions: true, comments: true }).value, { overrides });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
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
  }
}
