import Module, { createRequire } from 'node:module';
import path from 'node:path';
import type Dockerode from 'dockerode';

/**
 * dockerode, without loading what a client of a unix or TCP socket never runs: docker-modem's SSH
 * transport (ssh2, its crypto and a WebAssembly Poly1305) and dockerode's BuildKit session
 * (@grpc/grpc-js, @grpc/proto-loader, protobufjs and `long`'s WebAssembly). Both are required at the top
 * of their packages although only `ssh://` hosts (which EdgeGuard refuses) and image builds with
 * credentials (which it never does) call them: about 130 modules, two WebAssembly instances and
 * ~30 MB of RSS (bench/footprint.ts). Each is replaced, before dockerode is first loaded, by a function
 * that loads the real module on its first call, so nothing changes for a caller that does use them.
 */
export function loadDockerode(): typeof Dockerode {
  const dockerodeMain = require.resolve('dockerode');
  const fromDockerode = createRequire(dockerodeMain);
  deferFunctionModule(path.join(path.dirname(fromDockerode.resolve('docker-modem')), 'ssh.js'));
  deferFunctionModule(path.join(path.dirname(dockerodeMain), 'session.js'));
  return require(dockerodeMain) as typeof Dockerode;
}

/** Caches, under the module's own file name, a stand-in that loads the real function module on first call. */
function deferFunctionModule(file: string): void {
  if (require.cache[file]) return;
  let real: ((...args: unknown[]) => unknown) | undefined;
  const stub = new Module(file);
  stub.filename = file;
  stub.loaded = true;
  stub.exports = function deferred(this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      delete require.cache[file];
      real = require(file) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  require.cache[file] = stub;
}
