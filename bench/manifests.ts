import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/core/package-path';
import { analyseDeployment } from '../src/rules/index';
import { parseJsonText } from '../src/rules/json-text';

function corpus(): Array<{ name: string; text: string }> {
  const dir = path.resolve(packageRoot(), '..', 'shared', 'corpus', 'manifests');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(path.join(dir, name), 'utf8') }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Milliseconds from spawn to the first byte on stdout (or exit, for a command that prints nothing). */
function timeToFirstByte(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        resolve(Number(process.hrtime.bigint() - start) / 1e6);
      }
    };
    child.stdout.once('data', finish);
    child.on('exit', finish);
    child.on('error', reject);
    child.stdout.resume();
  });
}

async function spawnSeries(args: string[], runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await timeToFirstByte(args));
  return times.sort((a, b) => a - b);
}

/** Manifests analysed per second on one core (parse + analyse; positions are found later, for findings only), and the CLI's cold start. */
export async function run(): Promise<void> {
  const files = corpus();
  const totalBytes = files.reduce((n, f) => n + f.text.length, 0);

  // Warm up the JIT, then time whole passes over the corpus for about 3 s.
  for (let i = 0; i < 20; i++) for (const f of files) analyseDeployment(parseJsonText(f.text, { comments: true }).value);
  let analysed = 0;
  let findings = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < 3000) {
    for (const f of files) {
      findings += analyseDeployment(parseJsonText(f.text, { comments: true }).value).length;
      analysed++;
    }
    elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  }
  const perSecond = (analysed / elapsed) * 1000;

  // Baseline in the same run: JSON.parse alone, to show what the rules cost on top of reading.
  let parsed = 0;
  const startParse = process.hrtime.bigint();
  let elapsedParse = 0;
  while (elapsedParse < 1000) {
    for (const f of files) {
      JSON.parse(f.text);
      parsed++;
    }
    elapsedParse = Number(process.hrtime.bigint() - startParse) / 1e6;
  }
  const parsePerSecond = (parsed / elapsedParse) * 1000;

  console.log('manifests: corpus of %d files, %d KiB', files.length, Math.round(totalBytes / 1024));
  console.log('manifests: analysed %s manifests/s on one core (parse + all rules; target >= 2,000/s), %d findings per pass', perSecond.toFixed(0), Math.round(findings / (analysed / files.length)));
  console.log('manifests: baseline JSON.parse alone %s manifests/s (analysis = %s x the cost of JSON.parse)', parsePerSecond.toFixed(0), (parsePerSecond / perSecond).toFixed(1));

  const cli = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const sample = files.find((f) => f.name.includes('blobstorage')) ?? files[0]!;
  const samplePath = path.resolve(packageRoot(), '..', 'shared', 'corpus', 'manifests', sample.name);
  const runs = 15;
  await spawnSeries(['-e', ''], 2);
  const baseline = await spawnSeries(['-e', 'process.stdout.write("x")'], runs);
  const scan = await spawnSeries([cli, 'scan', samplePath], runs);
  console.log('manifests: cold start, node -e (baseline): p50 %s ms, p95 %s ms', percentile(baseline, 50).toFixed(0), percentile(baseline, 95).toFixed(0));
  console.log(
    'manifests: cold start, edgeguard scan <one file> to first output byte: p50 %s ms, p95 %s ms (target < 300 ms; %s x node startup)',
    percentile(scan, 50).toFixed(0),
    percentile(scan, 95).toFixed(0),
    (percentile(scan, 50) / percentile(baseline, 50)).toFixed(1),
  );
}

if (require.main === module) void run();
