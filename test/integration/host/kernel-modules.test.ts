import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createSchemaValidator } from '../../../src/core/schema-validator';
import { kernelModulesSource } from '../../../src/sources/host/kernel-modules';
import { SourceUnavailableError } from '../../../src/sources/source';
import { referenceSchemaDir } from '../../harness/paths';
import { SourceHarness } from '../../harness/source-harness';

const validator = createSchemaValidator(referenceSchemaDir());
const hasModules = existsSync('/proc/modules');
const NO_MODULES = 'this kernel has no /proc/modules (built without loadable module support): the live snapshot cannot run; the prepared-tree tests in test/unit/host/kernel-modules.test.ts cover the source';
if (!hasModules) console.error(`SKIP: KernelModules live snapshot: ${NO_MODULES}`);
else console.error('SKIP: KernelModules refusal test: this kernel has /proc/modules, so the source runs');

test('live: on a kernel without module support the source refuses to start and says why', { skip: hasModules ? 'this kernel has /proc/modules' : false }, async () => {
  const harness = new SourceHarness(kernelModulesSource);
  try {
    await assert.rejects(harness.start(), (err: unknown) => err instanceof SourceUnavailableError && /no loadable module support/.test(err.reason));
  } finally {
    await harness.stop();
  }
});

test('live: the snapshot lists exactly the modules of /proc/modules, valid against the schema', { skip: hasModules ? false : NO_MODULES }, async () => {
  const harness = new SourceHarness(kernelModulesSource);
  try {
    const source = await harness.start();
    await source.snapshot!();
    const [event] = harness.eventsNamed('KernelModules');
    assert.ok(event);
    const r = validator.validateEvent(event);
    assert.equal(r.valid, true, r.errors.join('\n'));
    const expected = readFileSync('/proc/modules', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]).sort();
    assert.deepEqual(event.Payload.map((m) => m.Name).sort(), expected);
  } finally {
    await harness.stop();
  }
});
