import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runtimeCopies } from '../../harness/dockerfile';
import { repoRoot } from '../../harness/paths';

type Json = Record<string, unknown>;
const root = repoRoot();
const readJson = (file: string): Json => JSON.parse(readFileSync(path.join(root, file), 'utf8')) as Json;
const at = (value: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((v, k) => (v as Json | undefined)?.[k], value);

test('module.json maps each IoT Edge platform to a Dockerfile that exists', () => {
  const module = readJson('module.json');
  assert.equal(module['$schema-version'], '0.0.1');
  assert.match(String(at(module, 'image', 'repository')), /\/edgeguard$/);
  const platforms = at(module, 'image', 'tag', 'platforms') as Record<string, string>;
  assert.deepEqual(Object.keys(platforms).sort(), ['amd64', 'arm32v7', 'arm64v8']);
  for (const [platform, dockerfile] of Object.entries(platforms)) {
    assert.ok(existsSync(path.join(root, dockerfile)), `${platform}: ${dockerfile} exists`);
  }
  const pkg = readJson('package.json');
  assert.equal(at(module, 'image', 'tag', 'version'), pkg.version, 'image tag follows package.json');
});

test('deployment template: schema 4.0.0, edgeguard module with its privileges and state volume, upstream route', () => {
  const template = readJson('deployment.template.json');
  assert.equal(template['$schema-template'], '4.0.0');
  const agent = at(template, 'modulesContent', '$edgeAgent', 'properties.desired') as Json;
  assert.ok(at(agent, 'systemModules', 'edgeAgent'));
  assert.ok(at(agent, 'systemModules', 'edgeHub'));
  const edgeguard = at(agent, 'modules', 'edgeguard') as Json;
  assert.equal(at(edgeguard, 'settings', 'image'), '${MODULES.edgeguard}');
  const host = at(edgeguard, 'settings', 'createOptions', 'HostConfig') as Json;
  assert.equal(host.PidMode, 'host', 'the proc connector needs the host PID namespace');
  assert.equal(host.NetworkMode, 'host', 'the proc connector and connection tables need the host network namespace');
  assert.ok((host.CapAdd as string[]).includes('NET_ADMIN'));
  const binds = host.Binds as string[];
  assert.ok(binds.includes('/:/host:ro'));
  assert.ok(binds.includes('/var/run/docker.sock:/var/run/docker.sock'));
  const stateDir = String(at(edgeguard, 'env', 'EDGEGUARD_STATE_DIR', 'value'));
  assert.ok(binds.some((b) => b.endsWith(`:${stateDir}`) && !b.startsWith('/')), 'state directory is a named volume');
  const routes = at(template, 'modulesContent', '$edgeHub', 'properties.desired', 'routes') as Record<string, string>;
  assert.ok(Object.values(routes).includes('FROM /messages/modules/edgeguard/outputs/* INTO $upstream'));
  const desired = at(template, 'modulesContent', 'edgeguard', 'properties.desired', 'ms_iotn:urn_azureiot_Security_SecurityAgentConfiguration') as Json;
  for (const [name, setting] of Object.entries(desired)) assert.ok(setting && typeof setting === 'object' && 'value' in setting, `${name} wrapped as {value}`);
});

test('every Dockerfile builds from source and ships the runtime only', () => {
  for (const dockerfile of ['Dockerfile.amd64', 'Dockerfile.arm32v7', 'Dockerfile.arm64v8']) {
    const text = readFileSync(path.join(root, dockerfile), 'utf8');
    assert.equal((text.match(/^FROM /gm) ?? []).length, 2, `${dockerfile}: two stages`);
    assert.match(text, /node-gyp rebuild/, `${dockerfile}: native addon built from source`);
    assert.match(text, /npm prune --omit=dev/, `${dockerfile}: dev dependencies pruned`);
    const copies = runtimeCopies(dockerfile);
    const shipped = copies.flatMap((c) => c.sources);
    for (const needed of ['/app/dist/src', '/app/build/Release/edgeguard_native.node', 'src/rules/catalogue.yaml', 'schemas', '/app/node_modules']) {
      assert.ok(shipped.includes(needed), `${dockerfile} ships ${needed}`);
    }
    assert.ok(!shipped.some((s) => /(^|\/)(test|bench)(\/|$)/.test(s)), `${dockerfile} ships no tests or benches`);
    for (const copy of copies.filter((c) => !c.from)) {
      for (const source of copy.sources) assert.ok(existsSync(path.join(root, source)), `${dockerfile}: ${source} exists in the build context`);
    }
    const entry = /^ENTRYPOINT (\[.*\])$/m.exec(text);
    assert.ok(entry, `${dockerfile}: ENTRYPOINT`);
    const argv = JSON.parse(entry[1]!) as string[];
    assert.equal(argv[0], 'node');
    assert.equal(argv[argv.length - 1], 'dist/src/main.js');
    // npm start runs the agent with the same V8 flags as the image.
    assert.ok(readFileSync(path.join(root, 'scripts', 'run.sh'), 'utf8').includes(`exec node ${argv.slice(1, -1).join(' ')} dist/src/main.js`), `scripts/run.sh uses the flags of ${dockerfile}`);
    // The flags keep WebAssembly (Node's fetch parses HTTP with undici's llhttp WebAssembly): no --lite-mode, no --jitless.
    const probe = spawnSync(process.execPath, [...argv.slice(1, -1), '-p', 'typeof WebAssembly'], { encoding: 'utf8' });
    assert.equal(probe.stdout.trim(), 'object', `${dockerfile}: node ${argv.slice(1, -1).join(' ')} keeps WebAssembly (${probe.stderr})`);
    // Base images are build arguments (npm run image passes local ones), defaulting to official images.
    const args = [...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
    assert.ok(args.length >= 1, `${dockerfile}: base images as ARGs`);
    for (const from of text.match(/^FROM \S+/gm) ?? []) assert.match(from, /^FROM \$\{\w+\}$/, `${dockerfile}: ${from} takes its image from an ARG`);
    const bases = new Set([...text.matchAll(/^FROM \$\{(\w+)\}/gm)].map((m) => m[1]!));
    const defaults = new Map(args);
    const resolve = (value: string): string => value.replace(/^\$\{(\w+)\}$/, (_, name: string) => defaults.get(name) ?? value);
    for (const [, image] of args.filter(([name]) => bases.has(name)).map(([name, value]) => [name, resolve(value)] as const)) assert.match(image, /^(arm64v8\/|arm32v7\/)?(node:24-bookworm-slim|debian:bookworm-slim|debian:forky-slim)$/, `${dockerfile}: official default ${image}`);
    // The runtime stage ships no package manager and no compiler, and an SBOM.
    const runtime = text.split(/^FROM /m).pop()!;
    assert.doesNotMatch(runtime, /apt-get install[^\n]*\b(npm|g\+\+|gcc|make|python3)\b/, `${dockerfile}: no npm or compiler installed in the runtime stage`);
    assert.doesNotMatch(runtime, /COPY --from=build \/usr\/local\/lib\/node_modules/, `${dockerfile}: npm not copied`);
    assert.match(runtime, /sbom\.js[^\n]*> \/app\/sbom\.cdx\.json/, `${dockerfile}: SBOM generated at build`);
  }
});

test('the README documents the two commands, and every document it links to exists', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  assert.match(readme, /^npm start\b/m);
  assert.match(readme, /^npm test\b/m);
  const pkg = readJson('package.json') as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.test, 'bash scripts/test.sh');
  assert.match(readFileSync(path.join(root, '.ci/run'), 'utf8'), /npm test/);
  const links = [...readme.matchAll(/\]\(((?:docs|schemas)\/[^)#\s]*)/g)].map((m) => m[1]!);
  assert.ok(links.length >= 8);
  for (const link of links) assert.ok(existsSync(path.join(root, link)), `${link} exists`);
});
