import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { installLeanModules, LEAN_MODULES } from '../../../src/agent/lean-modules';

// Installed before any of the packages below is loaded in this process (each test file runs in its own).
assert.ok(installLeanModules(), 'Node has module.registerHooks');

const root = path.resolve(__dirname, '../../../..');
/** A require() as the given file of node_modules does it. */
const requireFrom = (file: string) => createRequire(path.join(root, 'node_modules', file));
const loaded = (fragment: string) => Object.keys(require.cache).some((k) => k.includes(fragment) && !k.startsWith('edgeguard-deferred:'));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'lean-modules-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('lean modules (issue 12: the agent loads less)', () => {
  test('every entry is tested below', () => {
    assert.deepEqual(LEAN_MODULES.map((e) => e.specifier).sort(), ['./ws', '@colors/colors/safe', '@so-ric/colorspace', 'async', 'lodash', 'machina', 'tar-fs', 'typedarray.prototype.slice']);
    for (const e of LEAN_MODULES) assert.ok(e.why.length > 10 && (e.kind === 'minified' ? e.target : e.exports), e.specifier);
  });

  test("lodash: azure-iot-device gets lodash's own minified build, which behaves", () => {
    const _ = requireFrom('azure-iot-device/dist/twin.js')('lodash') as { merge(a: object, b: object): object; get(o: object, p: string): unknown; VERSION: string };
    assert.ok(require.cache[path.join(root, 'node_modules/lodash/lodash.min.js')], 'lodash.min.js loaded');
    assert.ok(!loaded('/node_modules/lodash/lodash.js'), 'lodash.js not loaded');
    assert.deepEqual(_.merge({ a: { b: 1 } }, { a: { c: 2 } }), { a: { b: 1, c: 2 } });
    assert.equal(_.get({ a: [{ b: 'x' }] }, 'a[0].b'), 'x');
    assert.equal(_.VERSION, (requireFrom('lodash/package.json')('./package.json') as { version: string }).version);
  });

  test("async: getos gets async's own minified build, which behaves", async () => {
    const async = requireFrom('getos/index.js')('async') as { eachSeries: (items: number[], fn: (n: number, cb: () => void) => void) => Promise<void> };
    assert.ok(loaded('/node_modules/async/dist/async.min.js'));
    assert.ok(!loaded('/node_modules/async/dist/async.js'));
    const seen: number[] = [];
    await async.eachSeries([1, 2, 3], (n, cb) => {
      seen.push(n);
      setImmediate(cb);
    });
    assert.deepEqual(seen, [1, 2, 3]);
  });

  test("machina: the IoT SDK gets machina's own minified build; a state machine transitions and emits", () => {
    const machina = requireFrom('azure-iot-mqtt-base/dist/mqtt_base.js')('machina') as { Fsm: { extend(o: object): new () => { state: string; handle(e: string): void; on(e: string, f: (d: { toState: string }) => void): void } } };
    assert.ok(loaded('/node_modules/machina/lib/machina.min.js'));
    assert.ok(!loaded('/node_modules/machina/lib/machina.js'));
    const Door = machina.Fsm.extend({ initialState: 'closed', states: { closed: { open: 'opened' }, opened: { close: 'closed' } } });
    const door = new Door();
    const transitions: string[] = [];
    door.on('transition', (d) => transitions.push(d.toState));
    door.handle('open');
    assert.equal(door.state, 'opened');
    door.handle('close');
    assert.deepEqual(transitions, ['opened', 'closed']);
  });

  test('tar-fs: deferred in dockerode until first use, then packs a directory', async () => {
    const tarFs = requireFrom('dockerode/lib/util.js')('tar-fs') as { pack(dir: string): NodeJS.ReadableStream };
    assert.ok(!loaded('/node_modules/tar-stream/'), 'tar-stream not loaded before first use');
    writeFileSync(path.join(tmp, 'hello.txt'), 'hello from the build context\n');
    const chunks: Buffer[] = [];
    for await (const chunk of tarFs.pack(tmp)) chunks.push(chunk as Buffer);
    const tar = Buffer.concat(chunks);
    assert.ok(loaded('/node_modules/tar-stream/'), 'loaded on first use');
    assert.ok(tar.includes('hello.txt'));
    assert.ok(tar.includes('hello from the build context'));
    // Property reads, `in` and keys go to the real module.
    assert.ok('extract' in tarFs && Object.keys(tarFs).includes('pack'));
  });

  test("mqtt's WebSocket builder: deferred until a ws:// connection, which then upgrades", async () => {
    const mqtt = requireFrom('azure-iot-mqtt-base/dist/mqtt_base.js')('mqtt') as { connect(url: string, o: object): { end(force: boolean): void; on(e: string, f: () => void): void } };
    assert.ok(!loaded('/node_modules/ws/'), 'ws not loaded with mqtt');
    const server = http.createServer();
    const upgrade = new Promise<http.IncomingMessage>((resolve) =>
      server.on('upgrade', (req, socket) => {
        resolve(req);
        socket.destroy();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = mqtt.connect(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/mqtt`, { reconnectPeriod: 0 });
    client.on('error', () => undefined);
    const req = await upgrade;
    client.end(true);
    server.close();
    assert.equal(req.headers.upgrade?.toLowerCase(), 'websocket');
    assert.equal(req.headers['sec-websocket-protocol'], 'mqtt');
    assert.ok(loaded('/node_modules/ws/'), 'ws loaded on first use');
  });

  test("traverse: typed-array slice deferred until a typed array is cloned, then copied", () => {
    const traverse = requireFrom('azure-iot-device/dist/twin.js')('traverse') as (o: unknown) => { clone(): { a: { b: Uint8Array } } };
    assert.ok(!loaded('/node_modules/es-abstract/'), 'es-abstract not loaded with traverse');
    const plain = traverse({ a: { b: 1 } }).clone();
    assert.deepEqual(plain, { a: { b: 1 } });
    const bytes = new Uint8Array([1, 2, 3]);
    const copy = traverse({ a: { b: bytes } }).clone();
    assert.notEqual(copy.a.b, bytes);
    assert.deepEqual([...copy.a.b], [1, 2, 3]);
    assert.ok(copy.a.b instanceof Uint8Array);
    assert.ok(loaded('/node_modules/typedarray.prototype.slice/'), 'loaded on first use');
  });

  test("@colors/colors: deferred in winston's formats until a colorize, which then colours (with the flags set before)", () => {
    type Format = { options: object; transform(i: object, o: object): { level: string } };
    const logform = requireFrom('winston/lib/winston.js')('logform') as { format: { colorize(o: object): Format } };
    assert.ok(!loaded('/node_modules/@colors/colors/'), 'colors not loaded with winston');
    // logform sets colors.enabled = true when it loads; a non-TTY stdout would otherwise disable colours.
    const colorize = logform.format.colorize({ level: true, colors: { info: 'blue' } });
    const info = colorize.transform({ level: 'info', [Symbol.for('level')]: 'info', message: 'hi' }, colorize.options);
    assert.equal(info.level, '\u001b[34minfo\u001b[39m');
    assert.ok(loaded('/node_modules/@colors/colors/'), 'loaded on first use');
  });

  test("@so-ric/colorspace: deferred in winston's diagnostics until a namespace is coloured", () => {
    const diagnostics = requireFrom('winston/lib/winston.js')('@dabh/diagnostics') as (name: string) => unknown;
    const colorspace = requireFrom('@dabh/diagnostics/modifiers/namespace.js')('@so-ric/colorspace') as (name: string) => { toString(): string };
    assert.equal(typeof diagnostics('edgeguard:test'), 'function');
    assert.ok(!loaded('/node_modules/@so-ric/colorspace/'), 'colorspace not loaded with diagnostics');
    assert.match(String(colorspace('winston')), /^#[0-9a-f]{6}$/);
    assert.equal(String(colorspace('winston')), String(colorspace('winston')), 'a namespace always gets the same colour');
    assert.ok(loaded('/node_modules/@so-ric/colorspace/'), 'loaded on first use');
  });

  // Last: it loads the real tar-fs, which the tar-fs test above checks is not loaded before first use.
  test('an entry applies only to the package it names, not to one whose name starts the same', () => {
    const elsewhere = requireFrom('dockerode-lookalike/index.js')('tar-fs') as object;
    const deferred = requireFrom('dockerode/lib/util.js')('tar-fs') as object;
    assert.notEqual(elsewhere, deferred, 'the real module, not the stand-in');
    assert.equal(elsewhere, require(path.join(root, 'node_modules/tar-fs/index.js')));
  });

  test("the agent's entry installs the hooks before anything loads its packages", () => {
    // The edgeHub upstream (the IoT SDK) is loaded when the agent starts in edgeHub mode: load it as it does.
    const dist = (file: string) => JSON.stringify(path.join(root, 'dist/src', file));
    const probe = `require(${dist('main.js')}); require(${dist('upstream/edgehub/upstream.js')}); console.log(JSON.stringify(Object.keys(require.cache)))`;
    const modules = JSON.parse(execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' })) as string[];
    assert.ok(modules.some((m) => m.endsWith('/node_modules/lodash/lodash.min.js')), 'lodash.min.js');
    assert.ok(!modules.some((m) => m.endsWith('/node_modules/lodash/lodash.js')), 'no lodash.js');
    for (const absent of ['/node_modules/tar-stream/', '/node_modules/ws/', '/node_modules/es-abstract/', '/@colors/colors/', '/@so-ric/colorspace/']) {
      assert.ok(!modules.some((m) => m.includes(absent) && !m.startsWith('edgeguard-deferred:')), `${absent} not loaded by the agent's modules`);
    }
  });
});
