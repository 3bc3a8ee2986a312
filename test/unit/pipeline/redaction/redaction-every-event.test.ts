import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createEvent, type PayloadItem } from '../../../../src/core/event';
import { EVENT_TYPES } from '../../../../src/agent/event-registry';
import { ownSchemaDir } from '../../../../src/core/schema-validator';
import { openPipeline } from '../../../../src/pipeline/pipeline';
import type { OutgoingMessage, Transport } from '../../../../src/core/transport';
import { referenceSchemaDir } from '../../../harness/paths';
import { AGENT, config, FakeClock, tempDir } from '../helpers';

// Issue 11 item 2: redaction is structural. The list of event types comes from the registry and the
// fields of each from its JSON Schema, so a new event type or field is covered without editing this test.

type Schema = Record<string, unknown>;
const schemas = new Map<string, Schema>();
for (const dir of [path.join(referenceSchemaDir(), 'security_message', 'schemas'), ownSchemaDir()]) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const schema = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Schema;
    schemas.set(String(schema.$id ?? file), schema);
  }
}

function resolve(ref: string, from: string): [Schema, string] {
  const [file, pointer = ''] = ref.split('#');
  const base = file ? file : from;
  let node: unknown = schemas.get(base);
  for (const part of pointer.split('/').filter(Boolean)) node = (node as Schema | undefined)?.[part];
  return [(node ?? {}) as Schema, base];
}

/** Secrets in the forms a command line, a URL, a connection string, a JSON body or an environment entry carry them. */
const PLANTED = [
  (n: number) => `redis-server --requirepass PLANTED${n}x --port 6379`,
  (n: number) => `/usr/bin/redis-cli -a PLANTED${n}x ping`,
  (n: number) => `https://admin:PLANTED${n}x@host/x?y=z`,
  (n: number) => `PGPASSWORD=PLANTED${n}x`,
  (n: number) => `HostName=h;DeviceId=d;SharedAccessKey=PLANTED${n}x`,
  (n: number) => `curl -u admin:PLANTED${n}x http://x`,
  (n: number) => `{"password":"PLANTED${n}x"}`,
  (n: number) => `mosquitto_pub -P PLANTED${n}x -t t`,
];
let counter = 0;
const planted = (): string => PLANTED[counter % PLANTED.length]!(counter++);

/** A value for `schema` where every free string holds a planted secret. */
function generate(schema: Schema, file: string, depth = 0): unknown {
  if (typeof schema.$ref === 'string') {
    const [target, targetFile] = resolve(schema.$ref, file);
    return generate({ ...target, ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref')) }, targetFile, depth);
  }
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (depth > 8) return planted();
  if (type === 'object' || schema.properties !== undefined || schema.additionalProperties !== undefined) {
    const out: Record<string, unknown> = {};
    for (const [name, sub] of Object.entries((schema.properties ?? {}) as Record<string, Schema>)) out[name] = generate(sub, file, depth + 1);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
      out.CommandLine = planted();
      out[`TOKEN=PLANTEDKEY${counter++}x`] = planted();
    }
    return out;
  }
  if (type === 'array') return [generate((schema.items ?? {}) as Schema, file, depth + 1)];
  if (type === 'integer' || type === 'number') return 1;
  if (type === 'boolean') return true;
  return planted();
}

function payloadSchema(name: string): [Schema, string] {
  for (const [id, schema] of schemas) {
    const props = schema.properties as Record<string, Schema> | undefined;
    const names = props?.Name?.enum;
    if (Array.isArray(names) && names.includes(name)) return [((props!.Payload as Schema).items ?? {}) as Schema, id];
  }
  throw new Error(`no schema for event type ${name}`);
}

class CapturingTransport implements Transport {
  readonly name = 'capturing';
  readonly bodies: string[] = [];
  async send(message: OutgoingMessage): Promise<void> {
    this.bodies.push(message.body);
  }
}

test('a secret planted in every string field (and in keys) of every registered event type never leaves the pipeline', async (t) => {
  const transport = new CapturingTransport();
  const clock = new FakeClock();
  const pipeline = await openPipeline({ ...AGENT, stateDir: tempDir(t), transport, clock }, config({ maxMessageSizeInBytes: 262_144, maxLocalCacheSizeInBytes: 20_000_000 }));
  pipeline.start();
  const plantedFields = new Map<string, number>();
  for (const type of EVENT_TYPES) {
    const [schema, file] = payloadSchema(type.name);
    const item = generate(schema, file) as PayloadItem;
    const text = JSON.stringify(item);
    plantedFields.set(type.name, text.split('PLANTED').length - 1);
    pipeline.ingest(createEvent(type.name, type.category, [item], { eventType: type.kind, now: new Date(clock.now()) }));
  }
  await clock.advance(6 * 3_600_000);
  await pipeline.close(2000);

  const sent = transport.bodies.join('\n');
  for (const type of EVENT_TYPES) {
    assert.ok(plantedFields.get(type.name)! >= 1, `${type.name}: at least one field received a secret`);
    assert.ok(sent.includes(`"${type.name}"`), `${type.name} was sent`);
  }
  const leaks = sent.match(/PLANTED[A-Z]*\d+x/g) ?? [];
  assert.deepEqual(leaks, [], `secrets leaked: ${leaks.slice(0, 5).join(', ')}`);
  assert.match(sent, /"RedactedFields":"[^"]+"/, 'items say where a secret was');
});
