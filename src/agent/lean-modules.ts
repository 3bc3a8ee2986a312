import * as nodeModule from 'node:module';
import type { ResolveFnOutput } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Memory (issue 12): every module a package loads stays in the V8 heap as its source string and its
 * compiled metadata. The agent loads, through its dependencies, a few big modules it never uses on a
 * device and unminified builds of packages that ship a minified one. One list, in one place:
 *  - `minified`: the same package's own minified build (same version, same API) instead of its
 *    commented source;
 *  - `deferred`: a stand-in that loads the real module on first use (a call or a property read; a
 *    property written before is written to the real module when it loads), so nothing breaks if a
 *    code path the agent does not take today starts using it.
 * Nothing in node_modules is edited. test/unit/agent/lean-modules.test.ts checks each entry still
 * behaves; README "Footprint" gives what the list saves.
 */
export interface LeanModule {
  /** The specifier exactly as the package requires it. */
  readonly specifier: string;
  /** Only when required from a file under this folder of node_modules (a package, or a file in it). */
  readonly from?: string;
  readonly kind: 'minified' | 'deferred';
  /** minified: the specifier of the package's own minified build. */
  readonly target?: string;
  /** deferred: what the module exports (a function is called or constructed, an object read). */
  readonly exports?: 'function' | 'object';
  readonly why: string;
}

export const LEAN_MODULES: readonly LeanModule[] = [
  { specifier: 'lodash', kind: 'minified', target: 'lodash/lodash.min.js', why: 'azure-iot-device and machina: 1.09 MB two-byte source (with comments) against 73 KB' },
  { specifier: 'async', from: 'getos', kind: 'minified', target: 'async/dist/async.min.js', why: "getos (azure-iot-device's OS name): async's 225 KB UMD build against 22 KB" },
  { specifier: 'machina', kind: 'minified', target: 'machina/lib/machina.min.js', why: 'the IoT SDK state machines: 62 KB against 9.5 KB' },
  { specifier: 'tar-fs', from: 'dockerode', kind: 'deferred', exports: 'object', why: 'dockerode packs a build context with it (buildImage); the agent never builds images' },
  { specifier: './ws', from: 'mqtt/lib/connect/index.js', kind: 'deferred', exports: 'function', why: 'MQTT over WebSockets (ws): the agent speaks MQTT over TLS to edgeHub' },
  { specifier: '@colors/colors/safe', from: 'logform', kind: 'deferred', exports: 'object', why: "winston's colorize formats (ANSI colours, 11 modules); the agent's log lines are plain text" },
  { specifier: '@so-ric/colorspace', from: '@dabh/diagnostics', kind: 'deferred', exports: 'function', why: "winston's debug namespaces pick a colour with it (47 KB bundle, 0.4 MB of heap), only under DEBUG=" },
  { specifier: 'typedarray.prototype.slice', from: 'traverse', kind: 'deferred', exports: 'function', why: 'traverse (twin patches) copies typed arrays with it, ~100 es-abstract modules; twins hold JSON' },
];

const DEFERRED_SCHEME = 'edgeguard-deferred:';

function requiredFrom(parentURL: string | undefined, from: string | undefined): boolean {
  if (from === undefined) return true;
  if (parentURL === undefined) return false;
  const marker = `/node_modules/${from}`;
  const at = parentURL.lastIndexOf(marker);
  if (at < 0) return false;
  const next = parentURL.charAt(at + marker.length);
  return next === '' || next === '/';
}

/** The CommonJS source of a deferred stand-in: the real module is required on first use. */
export function deferredSource(realPath: string, exportsKind: 'function' | 'object'): string {
  const real = JSON.stringify(realPath);
  const traps =
    exportsKind === 'function'
      ? `apply: (_t, self, args) => Reflect.apply(load(), self, args),
  construct: (_t, args) => Reflect.construct(load(), args),
  get: (_t, key) => load()[key],`
      : `get: (_t, key) => load()[key],
  set: (_t, key, value) => { if (real) real[key] = value; else pending.push([key, value]); return true; },
  has: (_t, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor: (_t, key) => { const d = Reflect.getOwnPropertyDescriptor(load(), key); return d && { ...d, configurable: true }; },`;
  return `'use strict';
let real;
const pending = [];
const load = () => {
  if (real) return real;
  real = require(${real});
  for (const [key, value] of pending.splice(0)) real[key] = value;
  return real;
};
module.exports = new Proxy(${exportsKind === 'function' ? 'function deferred() {}' : '{}'}, {
  ${traps}
});
`;
}

let installed = false;

/**
 * Installs the list as module hooks (once per process). Returns false where the runtime has no
 * synchronous module hooks (Node < 22.15; the agent ships on 24): everything loads as published.
 */
export function installLeanModules(list: readonly LeanModule[] = LEAN_MODULES): boolean {
  if (installed) return true;
  if (typeof nodeModule.registerHooks !== 'function') return false;
  installed = true;
  nodeModule.registerHooks({
    resolve(specifier, context, nextResolve): ResolveFnOutput {
      const entry = list.find((e) => e.specifier === specifier && requiredFrom(context.parentURL, e.from));
      if (!entry) return nextResolve(specifier, context);
      if (entry.kind === 'minified') return nextResolve(entry.target!, context);
      const resolved = nextResolve(specifier, context);
      if (!resolved.url.startsWith('file:')) return resolved;
      return { url: `${DEFERRED_SCHEME}${entry.exports}:${resolved.url}`, format: 'commonjs', shortCircuit: true };
    },
    load(url, context, nextLoad) {
      if (!url.startsWith(DEFERRED_SCHEME)) return nextLoad(url, context);
      const rest = url.slice(DEFERRED_SCHEME.length);
      const colon = rest.indexOf(':');
      const kind = rest.slice(0, colon) === 'function' ? 'function' : 'object';
      return { format: 'commonjs', source: deferredSource(fileURLToPath(rest.slice(colon + 1)), kind), shortCircuit: true };
    },
  });
  return true;
}
