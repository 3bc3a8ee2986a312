import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { freePort } from '../../harness/free-port';
import { QUIET_SOURCES, StandaloneAgent } from '../../harness/standalone-agent';

/** Local addresses (hex, as /proc/net/tcp writes them) of the sockets listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`)) out.push(f[1].split(':')[0]!);
    }
  }
  return out;
}

// Issue 11 item 11: on 7dab6b0 EDGEGUARD_METRICS_LISTEN=:9600 listened on every interface.
test('EDGEGUARD_METRICS_LISTEN=:<port> binds loopback only', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const port = await freePort();
  const agent = new StandaloneAgent(QUIET_SOURCES + '\n', { env: { EDGEGUARD_METRICS_LISTEN: `:${port}` } });
  t.after(() => agent.stop());
  await agent.waitFor('the metrics endpoint', () => agent.lines.some((l) => l.includes('metrics endpoint listening')));
  assert.deepEqual(listeners(port), ['0100007F'], 'one listener, on 127.0.0.1');
  assert.equal(await agent.stop(), 0);
});
