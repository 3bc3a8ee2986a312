import { defaultConfigView } from '../../../src/config/defaults';
import { createEvent } from '../../../src/core/event';
import { openPipeline } from '../../../src/pipeline/pipeline';
import type { Transport } from '../../../src/core/transport';
import { EVENT_TYPES } from '../../../src/agent/event-registry';
import { settingsCatalogue } from '../../../src/agent/catalogue';

/**
 * Child process for crash.test.ts: a pipeline on the real clock whose transport always rejects (edgeHub
 * down), fed `argv[3]` logins and `argv[4]` identical ProcessCreate; prints "ingested" and then either
 * waits to be killed, or closes on SIGTERM and prints "closed".
 */
async function main(): Promise<void> {
  // Not a test file: run by a test runner that collects every file under test/, it does nothing.
  if (process.argv.length < 5) return;
  const [stateDir, logins, processes] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
  const down: Transport = { name: 'down', send: () => Promise.reject(new Error('edgeHub down')) };
  const pipeline = await openPipeline(
    { agentId: '072f3eca-3db0-45ba-8174-fa383bc93caf', agentVersion: '0.1.0', eventTypes: EVENT_TYPES, stateDir, transport: down },
    defaultConfigView(settingsCatalogue([]), { highPriorityMessageFrequency: 'PT1H', lowPriorityMessageFrequency: 'PT2H' }),
  );
  process.on('SIGTERM', () => {
    void pipeline.close(2000).then(() => {
      process.stdout.write('closed\n');
      process.exit(0);
    });
  });
  pipeline.start();
  for (let i = 0; i < logins; i++) {
    pipeline.ingest(createEvent('Login', 'Triggered', [{ ProcessId: 1, UserName: `crash-${i}`, Executable: '/usr/sbin/sshd', Operation: 'PAM:authentication', Result: 'Success' }]));
  }
  for (let i = 0; i < processes; i++) {
    pipeline.ingest(createEvent('ProcessCreate', 'Triggered', [{ Executable: '/bin/job', ProcessId: 100 + i, ParentProcessId: 1, UserId: '0', UserName: 'root', CommandLine: '/bin/job --run' }]));
  }
  process.stdout.write('ingested\n');
  setInterval(() => undefined, 60_000);
}

void main();
