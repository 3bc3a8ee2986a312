import { createEvent, type SecurityEvent } from '../src/core/event';
import { redactCommandLine } from '../src/pipeline/redaction/command-line-secrets';
import { redactEventSecrets } from '../src/pipeline/redaction/event-redaction';

/**
 * Structural redaction on the ingest path (every string and key of every event, before queueing), as a
 * ratio to JSON.stringify of the same events measured in the same run (the pipeline serialises each
 * event at least once anyway):
 *  (a) ProcessCreate and ListeningPorts events whose command lines repeat (periodic jobs, daemons);
 *  (b) the same with every command line unique (nothing can be remembered: the worst ordinary case);
 *  (c) hostile 1 MB command lines: time per line, to show the cost stays linear.
 * Best of 7 interleaved runs of each, to damp the noise of a shared machine.
 */

const LINES = [
  '/usr/bin/python3 /opt/app/server.py --port 8080 --log-level info',
  '/bin/sh -c sleep 5',
  'ls -la /var/log',
  '/usr/sbin/sshd -D',
  'node dist/src/main.js',
  '/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock',
  'curl -s http://127.0.0.1:8080/health',
  'mysql -u root -pS3cret db',
  'redis-cli -a S3cret ping',
  'grep -r error /var/log/syslog',
];

function events(count: number, unique: boolean): SecurityEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const line = unique ? `${LINES[i % LINES.length]} --id ${i}` : LINES[i % LINES.length]!;
    return i % 2
      ? createEvent('ProcessCreate', 'Triggered', [{ Executable: '/usr/bin/x', CommandLine: line, ProcessId: i, ParentProcessId: 1, UserId: '0', UserName: 'root' }])
      : createEvent('ListeningPorts', 'Periodic', [{ LocalAddress: '0.0.0.0', LocalPort: String(i % 65535), Protocol: 'tcp', ExtraDetails: { CommandLine: line, ProcessId: String(i), Executable: '/usr/bin/x' } }]);
  });
}

function best(batch: readonly SecurityEvent[], fns: Record<string, (e: SecurityEvent) => unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const fn of Object.values(fns)) for (const e of batch) fn(e); // warm-up
  for (let r = 0; r < 7; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      const t = process.hrtime.bigint();
      for (const e of batch) fn(e);
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      out[name] = Math.min(out[name] ?? Infinity, ms);
    }
  }
  return out;
}

export async function run(): Promise<void> {
  console.log('bench/redaction — structural redaction (src/pipeline/redaction), main thread');
  for (const [label, unique] of [
    ['(a) 200,000 events, command lines that repeat', false],
    ['(b) 200,000 events, every command line unique', true],
  ] as const) {
    const batch = events(200_000, unique);
    const t = best(batch, { stringify: (e) => JSON.stringify(e), redact: redactEventSecrets });
    const rate = (ms: number) => `${Math.round((batch.length / ms) * 1000).toLocaleString('en-US').padStart(11)} events/s`;
    console.log(label);
    console.log(`    redactEventSecrets                 ${rate(t.redact!)}  (${((t.redact! * 1000) / batch.length).toFixed(2)} µs/event)`);
    console.log(`    baseline: JSON.stringify           ${rate(t.stringify!)}  -> redaction / baseline cost ${(t.redact! / t.stringify!).toFixed(2)}`);
  }
  console.log('(c) hostile command lines of 1 MB (linear time: each well under a second)');
  const hostile: Array<[string, string]> = [
    ['repeated a://', 'a://'.repeat(250_000)],
    ['repeated x=', 'x='.repeat(500_000)],
    ['repeated --password', '--password '.repeat(95_000)],
    ['repeated "password":"', '"password":"'.repeat(83_000)],
    ['htpasswd -b with 500,000 words', 'htpasswd -b ' + 'w '.repeat(500_000)],
    ['unclosed quoted secret', '--password "' + 'a '.repeat(500_000)],
  ];
  for (const [label, text] of hostile) {
    const t = process.hrtime.bigint();
    redactCommandLine(text);
    console.log(`    ${label.padEnd(34)} ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1).padStart(8)} ms`);
  }
}
