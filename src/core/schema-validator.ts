import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packagePath } from './package-path';

export interface ValidationResult {
  valid: boolean;
  errors: string[];
}

export interface SchemaValidator {
  /** Message against the official root schema plus the `Aggregated` category and EdgeGuard's own event types. */
  validateMessage(message: unknown): ValidationResult;
  /** Message against the untouched official schema (only for messages without the Aggregated extension). */
  validateMessageStrictOfficial(message: unknown): ValidationResult;
  /** One event, wrapped into a message with a fixed agent identity. */
  validateEvent(event: unknown): ValidationResult;
}

type JsonObject = Record<string, unknown>;

const ROOT_ID = 'message_v1_0.json';
const EXTENDED_ROOT_ID = 'edgeguard_message_v1_0.json';

/** Own schemas: schemas/events of the package (from src/ or dist/ alike). */
export function ownSchemaDir(): string {
  return packagePath('schemas/events');
}

function readJson(file: string): JsonObject {
  return JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
}

function listJson(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** Adds `Aggregated` wherever the official schemas enumerate categories, as the reference agents send it. */
function allowAggregated(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(allowAggregated);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node as JsonObject)) {
    if (key === 'Category' && value && typeof value === 'object' && Array.isArray((value as JsonObject).enum)) {
      const values = (value as { enum: string[] }).enum;
      out[key] = { ...(value as JsonObject), enum: values.includes('Triggered') && !values.includes('Aggregated') ? [...values, 'Aggregated'] : values };
    } else {
      out[key] = allowAggregated(value);
    }
  }
  return out;
}

/** The root schema, extended: Aggregated events (non-empty payload, as Triggered) and EdgeGuard's own event schemas. */
function extendRoot(root: JsonObject, ownIds: string[]): JsonObject {
  const extended = allowAggregated(root) as JsonObject;
  extended.$id = EXTENDED_ROOT_ID;
  const eventsItems = ((extended.properties as JsonObject).Events as JsonObject).items as JsonObject;
  const single = (eventsItems.oneOf as JsonObject[])[0]!;
  // The category rules need no change: allowAggregated put Aggregated beside Triggered, which requires a payload.
  const typeRules = (single.allOf as JsonObject[])[2];
  (typeRules!.oneOf as JsonObject[]).push(...ownIds.map((id) => ({ $ref: `${id}#` })));
  return extended;
}

function newAjv(): Ajv {
  // The official schemas use non-standard keywords (e.g. "boolean") that strict mode would reject.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`.trim());
}

/**
 * Validator over Microsoft's official schemas (`referenceDir` = .../azure-iot-security) and EdgeGuard's own
 * event schemas (`ownDir`, default schemas/events in the repo).
 */
export function createSchemaValidator(referenceDir: string, ownDir: string = ownSchemaDir()): SchemaValidator {
  const officialFiles = listJson(path.join(referenceDir, 'security_message', 'schemas'));
  if (officialFiles.length === 0) throw new Error(`no official schemas found under ${referenceDir}`);
  const official = officialFiles.map(readJson);
  const root = official.find((schema) => schema.$id === ROOT_ID);
  if (!root) throw new Error(`${ROOT_ID} not found under ${referenceDir}`);
  const own = listJson(ownDir).map((file) => {
    const schema = readJson(file);
    if (typeof schema.$id !== 'string') throw new Error(`${file} has no $id`);
    return schema;
  });

  // Two compilers: the untouched official set, and one where every category enum also admits Aggregated.
  const strictAjv = newAjv();
  for (const schema of official) strictAjv.addSchema(schema);
  const extendedAjv = newAjv();
  for (const schema of [...official, ...own]) extendedAjv.addSchema(allowAggregated(schema) as JsonObject);
  extendedAjv.addSchema(extendRoot(root, own.map((schema) => schema.$id as string)));

  const strict = strictAjv.getSchema(ROOT_ID) as ValidateFunction;
  const extended = extendedAjv.getSchema(EXTENDED_ROOT_ID) as ValidateFunction;
  const run = (fn: ValidateFunction, data: unknown): ValidationResult => {
    const valid = fn(data) as boolean;
    return { valid, errors: valid ? [] : describe(fn.errors) };
  };
  return {
    validateMessage: (message) => run(extended, message),
    validateMessageStrictOfficial: (message) => run(strict, message),
    validateEvent: (event) =>
      run(extended, { AgentVersion: '0.0.0', AgentId: '00000000-0000-4000-8000-000000000000', MessageSchemaVersion: '1.0', Events: [event] }),
  };
}
