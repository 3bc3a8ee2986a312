import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEvent } from '../../../../src/core/event';
import { redactCommandLine, redactEventCommandLines } from '../../../../src/pipeline/redaction/command-line-secrets';
import { referenceSchemaDir } from '../../../harness/paths';
import { createSchemaValidator } from '../../../../src/core/schema-validator';

const cases: Array<[string, string]> = [
  ['mysql -u root -pS3cr3t! mydb', 'mysql -u root -p*** mydb'],
  ['/usr/bin/mysqldump -psecret --all-databases', '/usr/bin/mysqldump -p*** --all-databases'],
  ['sshpass -p hunter2 ssh admin@10.0.0.1', 'sshpass -p *** ssh admin@10.0.0.1'],
  ['app --password=hunter2 --verbose', 'app --password=*** --verbose'],
  ['app --db-password hunter2 --port 5432', 'app --db-password *** --port 5432'],
  ['curl --token abc.def.ghi https://x', 'curl --token *** https://x'],
  ['env API_KEY=abc123 DB_PASSWD=xyz node server.js', 'env API_KEY=*** DB_PASSWD=*** node server.js'],
  ['node app.js "--client-secret=pass"', 'node app.js "--client-secret=***"'],
  ['curl https://user:pa55@example.com/x', 'curl https://user:***@example.com/x'],
  ['curl -H "Authorization: Bearer eyJhbGciOi" https://api', 'curl -H "Authorization: Bearer ***" https://api'],
  ['send HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=AbCd+/1234=', 'send HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=***'],
  ['az storage blob upload --account-key Zm9vYmFy', 'az storage blob upload --account-key ***'],
];

test('secrets on command lines are replaced by ***, the rest of the line kept', () => {
  for (const [input, expected] of cases) assert.equal(redactCommandLine(input), expected, input);
});

test('ordinary command lines are left alone, including secret-looking flags that take no secret', () => {
  for (const line of [
    '/bin/true',
    'ssh -p 2222 admin@host',
    'docker login --password-stdin -u me registry.local',
    'app --token-file /run/secrets/token --password-file=/run/pw',
    'ls -la /etc/passwd',
    'grep -r password /etc',
    'node dist/src/main.js --config edgeguard.yaml',
    'sh -c "echo key=value"',
    'mysql -u root -p',
  ]) {
    assert.equal(redactCommandLine(line), line, line);
  }
});

test('events: command fields redacted with a marker in ExtraDetails; untouched events are the same object; still schema-valid', () => {
  const validator = createSchemaValidator(referenceSchemaDir());
  const secret = createEvent('ProcessCreate', 'Triggered', [
    { Executable: '/usr/bin/mysql', CommandLine: 'mysql -pTopSecret', ProcessId: 10, ParentProcessId: 1, UserId: '0', UserName: 'root' },
  ]);
  const clean = redactEventCommandLines(secret);
  assert.notEqual(clean, secret);
  assert.equal(clean.Payload[0]!.CommandLine, 'mysql -p***');
  assert.equal(clean.Payload[0]!.ExtraDetails?.CommandLineRedacted, 'true');
  assert.equal(secret.Payload[0]!.CommandLine, 'mysql -pTopSecret', 'the input event is not modified');
  assert.ok(!JSON.stringify(clean).includes('TopSecret'));
  assert.deepEqual(validator.validateEvent(clean).errors, []);

  const plain = createEvent('ProcessCreate', 'Triggered', [{ Executable: '/bin/ls', CommandLine: 'ls -l', ProcessId: 11, ParentProcessId: 1, UserId: '0' }]);
  assert.equal(redactEventCommandLines(plain), plain);

  const exec = createEvent('ContainerActivity', 'Triggered', [{ Action: 'exec_start', Command: 'psql postgres://app:pw@db/app' }]);
  assert.equal(redactEventCommandLines(exec).Payload[0]!.Command, 'psql postgres://app:***@db/app');
});

test("the parent's command line in a ProcessCreate's ExtraDetails (kernel sensor context) is redacted too", () => {
  const event = createEvent('ProcessCreate', 'Triggered', [
    {
      Executable: '/bin/sh', ProcessId: 2, ParentProcessId: 1, UserId: '0', CommandLine: 'sh -c true',
      ExtraDetails: { ParentCommandLine: 'mysql -u root --password=hunter2 db', Cwd: '/' },
    },
  ]);
  const out = redactEventCommandLines(event);
  const extra = out.Payload[0]!.ExtraDetails as Record<string, string>;
  assert.equal(extra.ParentCommandLine?.includes('hunter2'), false, extra.ParentCommandLine);
  assert.equal(extra.CommandLineRedacted, 'true');
  assert.equal(extra.Cwd, '/');
  assert.equal(out.Payload[0]!.CommandLine, 'sh -c true');
});
