import { readdirSync } from 'node:fs';
import path from 'node:path';

/**
 * `npm run bench [name…]`: runs every bench/<name>.ts (each exports `run()` and prints its figures),
 * one after the other in this process, or only the named ones (`npm run bench -- pipeline manifests`).
 */
interface BenchModule {
  run(): Promise<void>;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const names = readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && f !== 'run.js')
    .map((f) => f.slice(0, -3))
    .filter((name) => wanted.length === 0 || wanted.includes(name))
    .sort();
  if (names.length === 0) throw new Error(`no benchmark matches ${wanted.join(', ')}`);
  const failed: string[] = [];
  for (const name of names) {
    console.log(`\n=== bench ${name} ===`);
    const started = Date.now();
    try {
      const mod = (await import(path.join(__dirname, `${name}.js`))) as BenchModule;
      await mod.run();
    } catch (err) {
      failed.push(name);
      console.log(`bench ${name} FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
    console.log(`=== ${name}: ${((Date.now() - started) / 1000).toFixed(1)} s ===`);
  }
  if (failed.length > 0) console.log(`\nfailed: ${failed.join(', ')}`);
  // A failed bench can leave a socket or timer behind: end here rather than wait for it.
  process.exit(failed.length > 0 ? 1 : 0);
}

void main();
