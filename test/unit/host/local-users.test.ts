import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { getLogger } from '../../../src/core/logger';
import { collectLocalUsers, LOCAL_USERS_EVENT, localUsersSource } from '../../../src/sources/host/local-users';
import { HostTree } from '../../harness/host-tree';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

const validator = createSchemaValidator(referenceSchemaDir());

const PASSWD = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
this line is garbage
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
broken:x:notanumber:1:::/bin/sh
bob:x:1001:4242::/home/bob:/bin/sh
`;
const GROUP = `root:x:0:
daemon:x:1:
adm:x:4:alice
sudo:x:27:alice, bob
alice:x:1000:
garbage-without-colons
docker:x:998:bob
`;

async function snapshot(tree: HostTree): Promise<SourceHarness> {
  const harness = new SourceHarness(localUsersSource, {}, tree.root);
  const source = await harness.start();
  await source.snapshot?.();
  return harness;
}

test('users with primary and supplementary groups, garbage lines skipped', async () => {
  const tree = new HostTree();
  tree.write('/etc/passwd', PASSWD);
  tree.write('/etc/group', GROUP);
  const harness = await snapshot(tree);
  try {
    const [event] = harness.eventsNamed(LOCAL_USERS_EVENT);
    assert.ok(event);
    assert.deepEqual(validator.validateEvent(event).errors, []);
    assert.equal(event.Category, 'Periodic');
    const byName = new Map(event.Payload.map((p) => [p.UserName, p]));
    assert.deepEqual([...byName.keys()], ['root', 'daemon', 'alice', 'bob']);
    assert.deepEqual(byName.get('alice'), { UserId: '1000', UserName: 'alice', GroupIds: '1000;4;27', GroupNames: 'alice;adm;sudo', ExtraDetails: { Shell: '/bin/bash' } });
    // Primary gid 4242 has no group entry: kept, named by its number.
    assert.equal(byName.get('bob')?.GroupIds, '4242;27;998');
    assert.equal(byName.get('bob')?.GroupNames, '4242;sudo;docker');
    assert.equal(harness.lastStatus()?.state, 'running');
  } finally {
    await harness.stop();
    tree.remove();
  }
});

test('garbage lines are reported as warnings with line numbers, never their content', () => {
  const tree = new HostTree();
  tree.write('/etc/passwd', PASSWD + 'secret:$6$hash$value:1:2\n');
  tree.write('/etc/group', GROUP);
  const warnings: Array<{ message: string; details: unknown }> = [];
  const log = { ...getLogger('test'), warn: (message: string, details?: unknown) => void warnings.push({ message, details }) };
  try {
    const items = collectLocalUsers({ hostRoot: tree.root, log, setStatus: () => undefined });
    assert.equal(items?.length, 4);
    assert.deepEqual(warnings, [
      { message: 'malformed lines in host passwd file skipped', details: { file: '/etc/passwd', lines: '3,5,7' } },
      { message: 'malformed lines in host group file skipped', details: { file: '/etc/group', lines: '6' } },
    ]);
  } finally {
    tree.remove();
  }
});

test('missing group file: degraded, primary groups only; missing passwd: failed, no event', async () => {
  const tree = new HostTree();
  tree.write('/etc/passwd', PASSWD);
  let harness = await snapshot(tree);
  try {
    assert.equal(harness.lastStatus()?.state, 'degraded');
    assert.match(harness.lastStatus()?.reason ?? '', /\/etc\/group/);
    const [event] = harness.eventsNamed(LOCAL_USERS_EVENT);
    assert.equal(event?.Payload.find((p) => p.UserName === 'alice')?.GroupIds, '1000');
    assert.deepEqual(validator.validateEvent(event).errors, []);
  } finally {
    await harness.stop();
  }
  const empty = new HostTree();
  harness = await snapshot(empty);
  try {
    assert.equal(harness.lastStatus()?.state, 'failed');
    assert.match(harness.lastStatus()?.reason ?? '', /ENOENT/);
    assert.equal(harness.events.length, 0);
  } finally {
    await harness.stop();
    tree.remove();
    empty.remove();
  }
});

test('live machine: every account of /etc/passwd is reported and schema-valid', async () => {
  const harness = new SourceHarness(localUsersSource, {}, '/');
  try {
    const source = await harness.start();
    await source.snapshot?.();
    const [event] = harness.eventsNamed(LOCAL_USERS_EVENT);
    assert.ok(event);
    assert.deepEqual(validator.validateEvent(event).errors, []);
    assert.ok(event.Payload.some((p) => p.UserName === 'root' && p.UserId === '0' && String(p.GroupIds).split(';')[0] === '0'));
  } finally {
    await harness.stop();
  }
});
