import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Kusto scalar types the fleet tables use. */
export type KustoType = 'string' | 'long' | 'real' | 'bool' | 'datetime' | 'dynamic';

export interface Column {
  readonly name: string;
  readonly type: KustoType;
  /** Where the value comes from: a JSON path in the ingested record, or a payload property name. */
  readonly source: string;
  readonly description?: string;
}

type Json = Record<string, unknown>;

/**
 * Reads event schemas (EdgeGuard's under schemas/events, Microsoft's Defender for IoT ones) and turns
 * their properties into Kusto columns, so that the fleet tables follow the schemas: a field added to a
 * schema becomes a column on the next `npm run fleet:generate`, and the tests fail until it does.
 */
export class SchemaSet {
  private readonly cache = new Map<string, Json>();

  constructor(
    /** schemas/events of this repository. */
    readonly ownDir: string,
    /** Microsoft's security_message/schemas (message_v1_0.json, messageEventTypeDefinitions_v1_0.json…). */
    readonly referenceDir: string,
  ) {}

  read(file: string): Json {
    let doc = this.cache.get(file);
    if (!doc) {
      const own = path.join(this.ownDir, file);
      const ref = path.join(this.referenceDir, file);
      let text: string;
      try {
        text = readFileSync(own, 'utf8');
      } catch {
        text = readFileSync(ref, 'utf8');
      }
      doc = JSON.parse(text) as Json;
      this.cache.set(file, doc);
    }
    return doc;
  }

  /** Follows `$ref` (same file `#/a/b` or `Other.json#/a/b`) until a schema without one. */
  resolve(schema: Json, file: string): { schema: Json; file: string } {
    let current = schema;
    let currentFile = file;
    for (let hops = 0; typeof current.$ref === 'string'; hops++) {
      if (hops > 16) throw new Error(`$ref chain too long in ${file}`);
      const [target, pointer = ''] = (current.$ref as string).split('#');
      if (target) currentFile = target;
      let node: unknown = this.read(currentFile);
      for (const part of pointer.split('/').filter(Boolean)) node = (node as Json)[part];
      if (!node || typeof node !== 'object') throw new Error(`unresolved $ref ${String(current.$ref)} in ${file}`);
      current = node as Json;
    }
    return { schema: current, file: currentFile };
  }

  /** The payload item properties of an event type's schema, in schema order. */
  payloadProperties(eventFile: string): Array<{ name: string; schema: Json; file: string }> {
    const doc = this.read(eventFile);
    const items = ((doc.properties as Json | undefined)?.Payload as Json | undefined)?.items as Json | undefined;
    const props = items?.properties as Json | undefined;
    if (!props) throw new Error(`${eventFile}: no Payload.items.properties`);
    return Object.entries(props).map(([name, schema]) => ({ name, ...this.resolve(schema as Json, eventFile) }));
  }

  /** The Kusto type for a JSON Schema node. */
  kustoType(schema: Json, file: string): KustoType {
    const s = this.resolve(schema, file).schema;
    if (s.type === 'string' || (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string'))) return s.format === 'date-time' ? 'datetime' : 'string';
    if (s.type === 'integer') return 'long';
    if (s.type === 'number') return 'real';
    if (s.type === 'boolean') return 'bool';
    if (Array.isArray(s.oneOf) && s.oneOf.length > 0) {
      const types = new Set(s.oneOf.map((o) => this.kustoType(o as Json, file)));
      if (types.size === 1) return [...types][0]!;
    }
    return 'dynamic';
  }

  /** Payload properties as columns, typed from the schema. */
  payloadColumns(eventFile: string): Column[] {
    return this.payloadProperties(eventFile).map((p) => ({
      name: p.name,
      type: this.kustoType(p.schema, p.file),
      source: p.name,
      description: typeof p.schema.description === 'string' ? p.schema.description : undefined,
    }));
  }

  /** Top-level properties of the Defender message envelope (AgentVersion, AgentId, MessageSchemaVersion, Events). */
  envelopeColumns(): Column[] {
    const doc = this.read('message_v1_0.json');
    return Object.entries(doc.properties as Json).map(([name, schema]) => ({ name, type: this.kustoType(schema as Json, 'message_v1_0.json'), source: `$.${name}` }));
  }

  /** Properties of one event in the envelope (Id, TimestampLocal, …, Payload). */
  eventColumns(): Column[] {
    const doc = this.read('message_v1_0.json');
    const events = (doc.properties as Json).Events as Json;
    const first = ((events.items as Json).oneOf as Json[])[0]!;
    const generic = (first.allOf as Json[])[0]!;
    return Object.entries(generic.properties as Json).map(([name, schema]) => ({ name, type: this.kustoType(schema as Json, 'message_v1_0.json'), source: name }));
  }
}
