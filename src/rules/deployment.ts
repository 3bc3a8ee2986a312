import { catalogue, type ModuleRole } from './catalogue';
import { checkImage } from './checks/images';
import { checkIsolation } from './checks/isolation';
import { checkNetwork } from './checks/network';
import { checkResources } from './checks/resources';
import { checkRuntimeModule, checkUpstreamProtocol } from './checks/runtime';
import { checkEnvSecrets, checkRegistryPassword, contextOf, isPlaceholder, scanString } from './checks/secrets';
import type { Segment } from './json-path';
import { JsonSyntaxError, parseJsonFast } from './json-text';
import { EnvEntry, envFromList, envKey, getKey, hasTemplatePlaceholder, isObject, mountsFromHostConfig, nestingDepth, walkStrings, type EnvVar, type Json, type ModuleSpec } from './model';
import type { Reporter } from './reporter';
import { replaceTemplatePlaceholders } from './template-placeholders';
import { findCaseVariants, mergeCaseVariants } from './case-keys';
import { echoName, echoValue } from './echo';
import { bounded } from '../core/text-escape';

/** A piece of `properties.desired`: the whole of it, or a layered deployment's dotted path. */
interface DesiredView {
  /** Document path of the node. */
  readonly path: Segment[];
  /** Where the node sits inside properties.desired. */
  readonly sub: readonly string[];
  readonly value: unknown;
}

interface Located {
  readonly key: string;
  readonly value: unknown;
  readonly path: Segment[];
}

const DESIRED = 'properties.desired';

function desiredViews(section: unknown, sectionPath: Segment[]): DesiredView[] {
  if (!isObject(section)) return [];
  const views: DesiredView[] = [];
  for (const [key, value] of Object.entries(section)) {
    if (key === DESIRED) views.push({ path: [...sectionPath, key], sub: [], value });
    else if (key.startsWith(`${DESIRED}.`)) views.push({ path: [...sectionPath, key], sub: key.slice(DESIRED.length + 1).split('.'), value });
    else if (key === 'properties' && isObject(value) && isObject(value.desired)) views.push({ path: [...sectionPath, 'properties', 'desired'], sub: [], value: value.desired });
  }
  return views;
}

function startsWith(a: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= a.length && prefix.every((p, i) => a[i] === p);
}

function walk(value: unknown, path: Segment[], rest: readonly string[]): { value: unknown; path: Segment[] } | undefined {
  let v = value;
  let p = path;
  for (const step of rest) {
    const found = getKey(v, step);
    if (!found) return undefined;
    v = found.value;
    p = [...p, found.key];
  }
  return { value: v, path: p };
}

function valueAt(views: readonly DesiredView[], sub: readonly string[]): { value: unknown; path: Segment[] } | undefined {
  let result: { value: unknown; path: Segment[] } | undefined;
  for (const v of views) {
    if (!startsWith(sub, v.sub)) continue;
    const found = walk(v.value, v.path, sub.slice(v.sub.length));
    if (found) result = found;
  }
  return result;
}

function childrenAt(views: readonly DesiredView[], sub: readonly string[]): Located[] {
  const out = new Map<string, Located>();
  for (const v of views) {
    if (startsWith(sub, v.sub)) {
      const found = walk(v.value, v.path, sub.slice(v.sub.length));
      if (found && isObject(found.value)) for (const [key, value] of Object.entries(found.value)) out.set(key, { key, value, path: [...found.path, key] });
    } else if (v.sub.length === sub.length + 1 && startsWith(v.sub, sub)) {
      const key = v.sub[sub.length]!;
      out.set(key, { key, value: v.value, path: v.path });
    }
  }
  return [...out.values()];
}

const CHUNK = /^createOptions(\d+)$/;
/** Docker create options are a few levels deep; far deeper is hostile or broken. */
const MAX_CREATE_DEPTH = 64;

/** settings.createOptions (object or string, possibly chunked) -> create options, or M02. */
function readCreateOptions(r: Reporter, module: string, settings: Json, settingsPath: Segment[], template: boolean): { create: Json; key: string } {
  const base = getKey(settings, 'createOptions');
  const chunks: Array<{ n: number; key: string; value: unknown }> = [];
  for (const [key, value] of Object.entries(settings)) {
    const m = CHUNK.exec(key);
    if (m) chunks.push({ n: Number(m[1]), key, value });
  }
  const key = base?.key ?? 'createOptions';
  const where = [...settingsPath, key];
  if (!base) {
    if (chunks.length > 0) r.add('M02', module, [...settingsPath, chunks[0]!.key], 'createOptions chunks are present without the first part (createOptions).');
    return { create: {}, key };
  }
  if (isObject(base.value)) return { create: mergeCaseVariants(base.value, where, caseVariantReporter(r, module)), key };
  if (base.value === null || base.value === undefined) return { create: {}, key };
  if (typeof base.value !== 'string') {
    r.add('M02', module, where, `createOptions is a ${Array.isArray(base.value) ? 'list' : typeof base.value}, not a JSON object or a string.`);
    return { create: {}, key };
  }
  chunks.sort((a, b) => a.n - b.n);
  const max = catalogue().runtime.maxChunks;
  if (chunks.length + 1 > max || chunks.some((c) => c.n >= max)) r.add('M02', module, where, `createOptions is split into more than ${max} chunks.`);
  const gap = chunks.findIndex((c, i) => c.n !== i + 1);
  if (gap >= 0) r.add('M02', module, [...settingsPath, chunks[gap]!.key], `createOptions chunks are not numbered 01, 02, … without gaps (${chunks[gap]!.key} is out of sequence).`);
  const nonString = chunks.find((c) => typeof c.value !== 'string');
  if (nonString) {
    r.add('M02', module, [...settingsPath, nonString.key], `${nonString.key} is not a string.`);
    return { create: {}, key };
  }
  const joined = base.value + chunks.map((c) => c.value as string).join('');
  if (joined.trim() === '') return { create: {}, key };
  let parsed: unknown;
  try {
    parsed = parseJsonFast(joined);
  } catch (error) {
    // In a template a `${VAR}` may stand for a number or boolean: read it as unknown (null).
    if (template && joined.includes('${')) {
      try {
        parsed = parseJsonFast(replaceTemplatePlaceholders(joined, 'null'));
      } catch {
        parsed = undefined;
      }
    }
    if (parsed === undefined) {
      const detail = error instanceof JsonSyntaxError ? `${error.reason} (offset ${error.offset})` : 'not JSON';
      r.add('M02', module, where, `createOptions${chunks.length > 0 ? ` (joined from ${chunks.length + 1} chunks)` : ''} is not valid JSON: ${detail}.`);
      return { create: {}, key };
    }
  }
  if (!isObject(parsed)) {
    r.add('M02', module, where, 'createOptions is not a JSON object.');
    return { create: {}, key };
  }
  if (nestingDepth(parsed, MAX_CREATE_DEPTH) > MAX_CREATE_DEPTH) {
    r.add('M02', module, where, `createOptions is nested deeper than ${MAX_CREATE_DEPTH} levels.`);
    return { create: {}, key };
  }
  return { create: mergeCaseVariants(parsed, where, caseVariantReporter(r, module)), key };
}

/** M06 for keys that differ only in case: what the runtime applies is not what a reader sees. */
function caseVariantReporter(r: Reporter, module: string): (path: Segment[], spellings: string[]) => void {
  return (path, spellings) => {
    const names = spellings.map((s) => echoName(s) ?? '(a key not shown)');
    r.add('M06', module, path, `Keys ${names.join(', ')} differ only in case: Docker and edgeAgent read them as one key and apply the last one (objects merged, lists joined).`);
  };
}

function checkModuleSettings(r: Reporter, module: string, def: Json, basePath: Segment[], role: ModuleRole, partial: boolean): void {
  const rt = catalogue().runtime;
  const fields: Array<[string, readonly string[]]> = [
    ['restartPolicy', rt.restartPolicies],
    ['status', rt.statuses],
    ['imagePullPolicy', rt.imagePullPolicies],
    ['type', rt.moduleTypes],
  ];
  for (const [name, allowed] of fields) {
    const found = getKey(def, name);
    if (!found) {
      if (name === 'type' && !partial) r.add('M03', module, basePath, 'Module has no type (expected "docker").');
      continue;
    }
    if (hasTemplatePlaceholder(found.value) || (typeof found.value === 'string' && isPlaceholder(found.value))) continue;
    const value = typeof found.value === 'string' ? found.value.trim().toLowerCase() : undefined;
    if (value === undefined || !allowed.includes(value)) {
      r.add('M03', module, [...basePath, found.key], `${name} ${typeof found.value === 'string' ? echoValue(found.value, 40) : `(${found.value === null ? 'null' : typeof found.value})`} is not one of ${allowed.join(', ')}.`);
    }
  }
  if (role === 'module' && !partial && !getKey(def, 'status')) r.add('M03', module, basePath, 'Module has no status (running or stopped).');
}

function readModule(r: Reporter, name: string, role: ModuleRole, def: unknown, basePath: Segment[], template: boolean, partial: boolean): ModuleSpec | undefined {
  if (!isObject(def)) {
    r.add('M03', name, basePath, `Module definition is ${def === null ? 'null' : Array.isArray(def) ? 'a list' : `a ${typeof def}`}, not an object.`);
    return undefined;
  }
  findCaseVariants(def, basePath, caseVariantReporter(r, name));
  checkModuleSettings(r, name, def, basePath, role, partial);
  const settingsFound = getKey(def, 'settings');
  const settings = settingsFound && isObject(settingsFound.value) ? settingsFound.value : undefined;
  const settingsPath = [...basePath, settingsFound?.key ?? 'settings'];
  if (!settings) {
    if (settingsFound || !partial) r.add('M03', name, settingsFound ? settingsPath : basePath, 'Module has no settings object (settings.image is required).');
  }
  const imageFound = settings ? getKey(settings, 'image') : undefined;
  if (settings && (!imageFound || typeof imageFound.value !== 'string' || imageFound.value.trim() === '') && !partial) {
    r.add('M03', name, imageFound ? [...settingsPath, imageFound.key] : settingsPath, 'Module has no image.');
  }
  const { create, key } = settings ? readCreateOptions(r, name, settings, settingsPath, template) : { create: {}, key: 'createOptions' };
  const at = (...segments: Segment[]): Segment[] => [...settingsPath, key, ...segments];
  const env: EnvVar[] = [];
  const envList = getKey(create, 'Env');
  if (envList) env.push(...envFromList(envList.value, at(envList.key)));
  const envSection = getKey(def, 'env');
  if (envSection && isObject(envSection.value)) {
    const sectionPath = [...basePath, envSection.key];
    for (const [envName, entry] of Object.entries(envSection.value)) {
      const value = getKey(entry, 'value');
      const literal = value && (typeof value.value === 'string' || typeof value.value === 'number' || typeof value.value === 'boolean') ? String(value.value) : undefined;
      env.push(new EnvEntry(envName, envKey(envName), literal, sectionPath, envName, value?.key ?? 'value'));
    }
  }
  return {
    name,
    role,
    origin: 'manifest',
    create,
    at,
    basePath,
    image: imageFound && typeof imageFound.value === 'string' ? { value: imageFound.value, path: [...settingsPath, imageFound.key] } : undefined,
    env,
    mounts: mountsFromHostConfig(getKey(create, 'HostConfig')?.value, at),
  };
}

function findModulesContent(doc: Json): { root: Json; path: Segment[] } | undefined {
  for (const wrapper of [[], ['content']] as const) {
    const holder = wrapper.length ? getKey(doc, wrapper[0]!) : { key: '', value: doc };
    if (!holder || !isObject(holder.value)) continue;
    for (const name of ['modulesContent', 'moduleContent']) {
      const found = getKey(holder.value, name);
      if (found && isObject(found.value)) return { root: found.value, path: [...(wrapper.length ? [holder.key] : []), found.key] };
    }
  }
  if (getKey(doc, '$edgeAgent') || getKey(doc, '$edgeHub')) return { root: doc, path: [] };
  return undefined;
}

function checkSchemaVersion(r: Reporter, module: string, views: readonly DesiredView[], allowed: readonly string[]): void {
  const found = valueAt(views, ['schemaVersion']);
  const full = views.find((v) => v.sub.length === 0);
  if (!found) {
    if (full) r.add('M01', module, full.path, `${module} has no schemaVersion (supported: ${allowed.join(', ')}).`);
    return;
  }
  if (hasTemplatePlaceholder(found.value)) return;
  const text = typeof found.value === 'string' ? found.value.trim() : String(found.value);
  if (!allowed.includes(text.replace(/^(\d+\.\d+)\.0$/, '$1'))) r.add('M01', module, found.path, `${module} schemaVersion ${typeof found.value === 'string' ? echoValue(found.value, 20) : bounded(JSON.stringify(found.value) ?? String(found.value), 20)} is not supported (supported: ${allowed.join(', ')}).`);
}

function routeText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const route = getKey(value, 'route')?.value;
  return typeof route === 'string' ? route : undefined;
}

function numberOf(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

function checkEdgeHubDesired(r: Reporter, views: readonly DesiredView[]): boolean {
  const rt = catalogue().runtime;
  let downstream = false;
  for (const route of childrenAt(views, ['routes'])) {
    const text = routeText(route.value);
    if (text === undefined) continue;
    const normal = text.trim().replace(/\s+/g, ' ');
    if (/NOT\s+IS_DEFINED\s*\(\s*\$connectionModuleId\s*\)/i.test(normal)) downstream = true;
    if (rt.catchAllRoutes.some((p) => p.test(normal))) r.add('M05', '$edgeHub', route.path, `Route ${echoName(route.key) ?? '(unnamed)'} sends every message on the device upstream.`);
    const ttl = numberOf(getKey(route.value, 'timeToLiveSecs')?.value);
    if (ttl !== undefined && ttl > rt.maxTtlSecs) r.add('H07', '$edgeHub', [...route.path, getKey(route.value, 'timeToLiveSecs')!.key], `Route ${echoName(route.key) ?? '(unnamed)'} keeps messages for ${ttl} s (over 7 days).`);
  }
  const ttl = valueAt(views, ['storeAndForwardConfiguration', 'timeToLiveSecs']);
  const ttlValue = numberOf(ttl?.value);
  if (ttl && ttlValue !== undefined && ttlValue > rt.maxTtlSecs) r.add('H07', '$edgeHub', ttl.path, `storeAndForwardConfiguration keeps messages for ${ttlValue} s (over 7 days).`);

  const broker = valueAt(views, ['mqttBroker']);
  if (broker) downstream = true;
  const auths = valueAt(views, ['mqttBroker', 'authorizations']);
  if (auths && Array.isArray(auths.value)) {
    auths.value.forEach((rule, i) => {
      const allow = getKey(rule, 'allow');
      if (!allow || !Array.isArray(allow.value)) return;
      allow.value.forEach((statement, j) => {
        const resources = getKey(statement, 'resources');
        const list = resources && Array.isArray(resources.value) ? resources.value : [];
        const broad = list.findIndex((res) => typeof res === 'string' && /^(\+\/)*#$/.test(res.trim()));
        if (broad >= 0) r.add('H08', '$edgeHub', [...auths.path, i, allow.key, j, resources!.key, broad], 'An MQTT broker authorization allows the topic wildcard # (every topic).');
      });
    });
  }
  return downstream;
}

export interface DeploymentAnalysisOptions {
  /** The deployment was reconstructed from running containers: rules about the file itself do not apply. */
  running?: boolean;
}

/** Every rule over one deployment document (any of the input forms). */
export function analyseDeploymentInto(r: Reporter, doc: unknown, options: DeploymentAnalysisOptions = {}): void {
  if (!isObject(doc)) {
    r.add('M03', 'deployment', [], `The deployment is ${doc === null ? 'null' : Array.isArray(doc) ? 'a list' : `a ${typeof doc}`}, not a JSON object.`);
    return;
  }
  const located = findModulesContent(doc);
  if (!located) {
    r.add('M03', 'deployment', [], 'No modulesContent (or content.modulesContent) with $edgeAgent or $edgeHub: this is not an IoT Edge deployment.');
    return;
  }
  const { root, path: rootPath } = located;
  const template = getKey(doc, '$schema-template') !== undefined;
  const agent = getKey(root, '$edgeAgent');
  const hub = getKey(root, '$edgeHub');
  const agentViews = agent ? desiredViews(agent.value, [...rootPath, agent.key]) : [];
  const hubViews = hub ? desiredViews(hub.value, [...rootPath, hub.key]) : [];
  const agentFull = agentViews.some((v) => v.sub.length === 0);
  const partial = !agentFull;
  if (agent && agentViews.length === 0) r.add('M03', '$edgeAgent', [...rootPath, agent.key], '$edgeAgent has no properties.desired.');

  if (!options.running) {
    if (agent) checkSchemaVersion(r, '$edgeAgent', agentViews, catalogue().runtime.agentSchemaVersions);
    if (hub) checkSchemaVersion(r, '$edgeHub', hubViews, catalogue().runtime.hubSchemaVersions);
    const full = agentViews.find((v) => v.sub.length === 0);
    if (full && !valueAt(agentViews, ['integrity'])) r.add('M04', '$edgeAgent', full.path, 'The deployment carries no integrity section (not signed).');
  }

  const registryAddresses: string[] = [];
  let addressesKnown = true;
  for (const cred of childrenAt(agentViews, ['runtime', 'settings', 'registryCredentials'])) {
    const address = getKey(cred.value, 'address');
    if (typeof address?.value === 'string') {
      registryAddresses.push(address.value);
      if (hasTemplatePlaceholder(address.value) || isPlaceholder(address.value)) addressesKnown = false;
    }
    const password = getKey(cred.value, 'password');
    if (password) checkRegistryPassword(r, '$edgeAgent', cred.key, password.value, [...cred.path, password.key]);
  }

  const specs: ModuleSpec[] = [];
  for (const m of childrenAt(agentViews, ['systemModules'])) {
    const role: ModuleRole = m.key === 'edgeAgent' ? 'edgeAgent' : m.key === 'edgeHub' ? 'edgeHub' : 'module';
    const spec = readModule(r, m.key, role, m.value, m.path, template, partial);
    if (spec) specs.push(spec);
  }
  for (const m of childrenAt(agentViews, ['modules'])) {
    const spec = readModule(r, m.key, 'module', m.value, m.path, template, partial);
    if (spec) specs.push(spec);
  }

  const downstream = hub && !options.running ? checkEdgeHubDesired(r, hubViews) : undefined;
  const credentials = options.running || partial || !addressesKnown ? undefined : registryAddresses;
  for (const spec of specs) {
    checkIsolation(r, spec);
    checkResources(r, spec);
    checkNetwork(r, spec);
    checkImage(r, spec, credentials);
    checkRuntimeModule(r, spec, downstream);
    walkStrings(spec.create, [], (text, rel) => {
      const inEnv = rel.length === 2 && typeof rel[0] === 'string' && rel[0].toLowerCase() === 'env';
      const path = spec.at(...rel);
      scanString(r, contextOf(text, path, inEnv), path, spec.name, spec.role);
    });
  }
  checkUpstreamProtocol(r, specs.find((s) => s.role === 'edgeAgent'), specs.find((s) => s.role === 'edgeHub'));

  // S02/S04 over every other string of the document (env values, twins, metadata).
  const owners = new OwnerIndex(specs);
  walkStrings(
    doc,
    [],
    (text, path) => {
      const owner = owners.ownerOf(path);
      const module = owner?.name ?? moduleOfTwin(path, rootPath) ?? 'deployment';
      scanString(r, contextOf(text, path, false), path, module, owner?.role ?? 'module');
    },
    (key, parent) => CHUNK.test(key) || (key === 'createOptions' && parent[parent.length - 1] === 'settings') || (/^createoptions$/i.test(key) && parent[parent.length - 1] === 'settings'),
  );
  for (const spec of specs) checkEnvSecrets(r, spec);
}

/**
 * Which module a document path lies in (strictly below its definition): a trie of the modules'
 * base paths, so finding the owner of a string costs the depth of its path, not the module count
 * (a `specs.find` per string made 8,000 modules take 10 s).
 */
class OwnerIndex {
  private readonly root: OwnerNode = {};

  constructor(specs: readonly ModuleSpec[]) {
    for (const spec of specs) {
      let node = this.root;
      for (const segment of spec.basePath) {
        node.children ??= new Map();
        let child = node.children.get(segment);
        if (!child) node.children.set(segment, (child = {}));
        node = child;
      }
      // The first module with this base path wins, as specs.find did.
      node.spec ??= spec;
    }
  }

  ownerOf(path: readonly Segment[]): ModuleSpec | undefined {
    let node: OwnerNode | undefined = this.root;
    // Strictly below: the last segment of the path never ends a module's base path that owns it.
    for (let i = 0; i < path.length - 1 && node; i++) {
      node = node.children?.get(path[i]!);
      if (node?.spec) return node.spec;
    }
    return undefined;
  }
}

interface OwnerNode {
  spec?: ModuleSpec;
  /** Created with the first child: a module's own node (one per module) usually has none. */
  children?: Map<Segment, OwnerNode>;
}

/** `modulesContent.<name>…` -> name (a module twin, $edgeAgent or $edgeHub). */
function moduleOfTwin(path: readonly Segment[], rootPath: readonly Segment[]): string | undefined {
  if (path.length <= rootPath.length || !rootPath.every((s, i) => path[i] === s)) return undefined;
  const name = path[rootPath.length];
  return typeof name === 'string' ? name : undefined;
}
