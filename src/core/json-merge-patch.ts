/** Reported-properties documents: twin patch semantics (objects merge, null deletes). */

export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Applies a twin patch to `target` (in place): nested objects merge, null removes a key. */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else if (isObject(value)) {
      const current = target[key];
      target[key] = mergePatch(isObject(current) ? current : {}, value);
    } else target[key] = value;
  }
  return target;
}

/**
 * The patch that turns `previous` into `next` under twin semantics: changed keys, and null for keys
 * that are gone (a twin patch cannot otherwise remove a key). Undefined when nothing changed.
 */
export function diffPatch(previous: JsonObject, next: JsonObject): JsonObject | undefined {
  const patch: JsonObject = {};
  for (const [key, value] of Object.entries(next)) {
    const before = previous[key];
    if (isObject(value) && isObject(before)) {
      const sub = diffPatch(before, value);
      if (sub) patch[key] = sub;
    } else if (JSON.stringify(before) !== JSON.stringify(value)) patch[key] = value;
  }
  for (const key of Object.keys(previous)) if (!(key in next)) patch[key] = null;
  return Object.keys(patch).length > 0 ? patch : undefined;
}
