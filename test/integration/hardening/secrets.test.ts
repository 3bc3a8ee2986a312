import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { builtAgentSkipReason } from '../../harness/agent-process';
import { StandaloneAgent } from '../../harness/standalone-agent';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

// Issue 11 item 2: on 7dab6b0 a listener's command line went out verbatim in ListeningPorts' ExtraDetails.CommandLine.
test('a secret on a listening process command line is in neither stdout nor the state directory', { timeout: 90_000 }, async (t) => {
  const skip = builtAgentSkipReason();
  if (skip) return t.skip(`SKIP: ${skip}`);
  const secret = `PLANTED${process.pid}Zq`;
  const listener = spawn(
    process.execPath,
    ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>console.log(s.address().port));setTimeout(()=>{},120000)", '--', '--requirepass', secret, 'PGPASSWORD=' + secret, `https://u:${secret}@h`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => listener.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    listener.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    listener.once('exit', () => reject(new Error('listener exited')));
  });

  const agent = new StandaloneAgent(
    ['snapshotFrequency: PT1S', 'highPriorityMessageFrequency: PT1S', 'lowPriorityMessageFrequency: PT1S', 'collectorEnabledContainerRuntime: false', 'collectorEnabledDeploymentManifests: false', 'collectorEnabledOSBaseline: false', ''].join('\n'),
  );
  t.after(() => agent.stop());
  const ours = () => agent.events('ListeningPorts').flatMap((e) => e.Payload).find((p) => Number(p.LocalPort) === port);
  await agent.waitFor(`ListeningPorts with port ${port}`, () => ours() !== undefined, 30_000);
  const item = ours()!;
  const details = item.ExtraDetails as Record<string, string> | undefined;
  assert.ok(details?.CommandLine?.includes('--requirepass ***'), `command line redacted: ${details?.CommandLine}`);
  assert.match(details?.RedactedFields ?? '', /ExtraDetails\.CommandLine/);
  const state = agent.dir;
  assert.equal(await agent.stop(true), 0);
  const printed = agent.lines.filter((l) => l.includes(secret));
  assert.deepEqual(printed.map((l) => l.slice(0, 200)), [], 'the secret is not printed (messages or logs)');
  for (const file of filesUnder(path.join(state, 'state'))) {
    if (statSync(file).size > 50_000_000) continue;
    assert.ok(!readFileSync(file, 'latin1').includes(secret), `${file} holds the secret`);
  }
});
