import assert from 'node:assert/strict';
import { test } from 'node:test';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { QUIET_SOURCES, sleep, StandaloneAgent } from '../../harness/standalone-agent';

// Issue 11 item 1: P30D is more than a Node.js timer can wait (2^31-1 ms); on 7dab6b0 it became a 1 ms
// timer and the standalone agent printed thousands of messages in seconds.
test('durations over the timer limit are refused with a ConfigurationError and do not flood upstream', { timeout: 60_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const agent = new StandaloneAgent(
    ['snapshotFrequency: P30D', 'highPriorityMessageFrequency: P30D', 'lowPriorityMessageFrequency: P30D', 'aggregationIntervalProcessCreate: P1000Y', 'maxLocalCacheSizeInBytes: 100000000000', QUIET_SOURCES, ''].join('\n'),
  );
  t.after(() => agent.stop());
  await agent.waitFor('the agent running', () => agent.lines.some((l) => l.includes('EdgeGuard running')));
  await sleep(6000);
  const messages = agent.messages();
  assert.ok(messages.length <= 12, `${messages.length} messages in ~6 s (flood)`);
  const refused = new Set(agent.events('ConfigurationError').flatMap((e) => e.Payload.filter((p) => p.ErrorType === 'TypeMismatch').map((p) => String(p.ConfigurationName))));
  for (const name of ['snapshotFrequency', 'highPriorityMessageFrequency', 'lowPriorityMessageFrequency', 'aggregationIntervalProcessCreate', 'maxLocalCacheSizeInBytes']) {
    assert.ok(refused.has(name), `${name} refused with a TypeMismatch ConfigurationError (got ${[...refused].join(',')})`);
  }
  assert.equal(await agent.stop(), 0);
});
