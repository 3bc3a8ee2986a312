import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadYaml } from '../core/yaml';
import { SEVERITIES, type Severity } from './finding';
import { packagePath } from '../core/package-path';

export interface RuleInfo {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  readonly remediation: string;
}

export type ModuleRole = 'edgeAgent' | 'edgeHub' | 'module';

interface ExpectedMount {
  readonly source: RegExp;
  readonly roles: readonly ModuleRole[];
}

interface ProtocolHead {
  readonly head: string;
  readonly setting: string;
  readonly ports: readonly string[];
}

/** The catalogue as the checks use it: rule metadata plus the data lists, regexes compiled. */
export interface Catalogue {
  readonly rules: ReadonlyMap<string, RuleInfo>;
  readonly capabilities: { dangerous: ReadonlySet<string>; dockerDefault: ReadonlySet<string> };
  readonly paths: {
    runtimeSockets: readonly string[];
    iotedgeControl: readonly string[];
    iotedgeExpected: readonly ExpectedMount[];
    sensitive: readonly string[];
    benignReadOnly: readonly string[];
  };
  readonly devices: { raw: readonly RegExp[]; wildcardCgroupRule: RegExp };
  readonly sysctls: { namespacedSafe: ReadonlySet<string> };
  readonly ports: {
    edgeHub: ReadonlySet<string>;
    ssh: ReadonlySet<string>;
    debug: ReadonlySet<string>;
    debugArgument: RegExp;
    heads: readonly ProtocolHead[];
  };
  readonly images: {
    runtimeAgent: string;
    runtimeHub: string;
    unsupportedBelow: string;
    endOfLife: readonly string[];
    publicRegistries: ReadonlySet<string>;
  };
  readonly secrets: {
    placeholders: readonly RegExp[];
    connectionStringKeys: ReadonlyArray<{ kind: string; pattern: RegExp }>;
    keyNameQualifiers: readonly string[];
    keyValue: RegExp;
    envNameFragments: readonly string[];
    envNameTokens: readonly string[];
    envNameIgnoredSuffixes: readonly string[];
    urlCredentials: RegExp;
  };
  readonly runtime: {
    agentSchemaVersions: readonly string[];
    hubSchemaVersions: readonly string[];
    restartPolicies: readonly string[];
    statuses: readonly string[];
    imagePullPolicies: readonly string[];
    moduleTypes: readonly string[];
    maxChunks: number;
    legacyTls: ReadonlySet<string>;
    verboseLogLevels: readonly string[];
    maxTtlSecs: number;
    defaultStorageFolder: string;
    catchAllRoutes: readonly RegExp[];
  };
}

type Raw = Record<string, unknown>;

function obj(value: unknown, where: string): Raw {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`catalogue: ${where} is not a mapping`);
  return value as Raw;
}

function strings(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`catalogue: ${where} is not a list of strings`);
  return value as string[];
}

function str(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`catalogue: ${where} is not a string`);
  return value;
}

function num(value: unknown, where: string): number {
  if (typeof value !== 'number') throw new Error(`catalogue: ${where} is not a number`);
  return value;
}

const ROLES: readonly ModuleRole[] = ['edgeAgent', 'edgeHub', 'module'];

/** Builds the typed catalogue from the parsed YAML; throws on any shape error (a packaging defect). */
export function compileCatalogue(raw: unknown): Catalogue {
  const root = obj(raw, 'root');
  const rules = new Map<string, RuleInfo>();
  for (const [id, value] of Object.entries(obj(root.rules, 'rules'))) {
    const r = obj(value, `rules.${id}`);
    const severity = str(r.severity, `rules.${id}.severity`);
    if (!(SEVERITIES as readonly string[]).includes(severity)) throw new Error(`catalogue: rules.${id}.severity ${severity} is not a severity`);
    rules.set(id, { id, severity: severity as Severity, title: str(r.title, `rules.${id}.title`), remediation: str(r.remediation, `rules.${id}.remediation`) });
  }
  const caps = obj(root.capabilities, 'capabilities');
  const paths = obj(root.paths, 'paths');
  const devices = obj(root.devices, 'devices');
  const ports = obj(root.ports, 'ports');
  const images = obj(root.images, 'images');
  const secrets = obj(root.secrets, 'secrets');
  const runtime = obj(root.runtime, 'runtime');
  const regexes = (v: unknown, where: string, flags = '') => strings(v, where).map((p) => new RegExp(p, flags));
  return {
    rules,
    capabilities: { dangerous: new Set(strings(caps.dangerous, 'capabilities.dangerous')), dockerDefault: new Set(strings(caps.dockerDefault, 'capabilities.dockerDefault')) },
    paths: {
      runtimeSockets: strings(paths.runtimeSockets, 'paths.runtimeSockets'),
      iotedgeControl: strings(paths.iotedgeControl, 'paths.iotedgeControl'),
      iotedgeExpected: (Array.isArray(paths.iotedgeExpected) ? paths.iotedgeExpected : []).map((e: unknown, i: number) => {
        const m = obj(e, `paths.iotedgeExpected[${i}]`);
        const roles = strings(m.roles, `paths.iotedgeExpected[${i}].roles`);
        if (!roles.every((r) => (ROLES as readonly string[]).includes(r))) throw new Error(`catalogue: paths.iotedgeExpected[${i}].roles has an unknown role`);
        return { source: new RegExp(str(m.sourcePattern, `paths.iotedgeExpected[${i}].sourcePattern`)), roles: roles as ModuleRole[] };
      }),
      sensitive: strings(paths.sensitive, 'paths.sensitive'),
      benignReadOnly: strings(paths.benignReadOnly, 'paths.benignReadOnly'),
    },
    devices: { raw: regexes(devices.raw, 'devices.raw'), wildcardCgroupRule: new RegExp(str(devices.wildcardCgroupRule, 'devices.wildcardCgroupRule')) },
    sysctls: { namespacedSafe: new Set(strings(obj(root.sysctls, 'sysctls').namespacedSafe, 'sysctls.namespacedSafe')) },
    ports: {
      edgeHub: new Set(strings(ports.edgeHub, 'ports.edgeHub')),
      ssh: new Set(strings(ports.ssh, 'ports.ssh')),
      debug: new Set(strings(ports.debug, 'ports.debug')),
      debugArgument: new RegExp(str(ports.debugArgument, 'ports.debugArgument')),
      heads: (Array.isArray(ports.heads) ? ports.heads : []).map((h: unknown, i: number) => {
        const m = obj(h, `ports.heads[${i}]`);
        return { head: str(m.head, 'head'), setting: str(m.setting, 'setting'), ports: strings(m.ports, 'ports') };
      }),
    },
    images: {
      runtimeAgent: str(images.runtimeAgent, 'images.runtimeAgent'),
      runtimeHub: str(images.runtimeHub, 'images.runtimeHub'),
      unsupportedBelow: str(images.unsupportedBelow, 'images.unsupportedBelow'),
      endOfLife: strings(images.endOfLife, 'images.endOfLife'),
      publicRegistries: new Set(strings(images.publicRegistries, 'images.publicRegistries')),
    },
    secrets: {
      placeholders: regexes(secrets.placeholders, 'secrets.placeholders', 'i'),
      connectionStringKeys: (Array.isArray(secrets.connectionStringKeys) ? secrets.connectionStringKeys : []).map((c: unknown, i: number) => {
        const m = obj(c, `secrets.connectionStringKeys[${i}]`);
        return { kind: str(m.kind, 'kind'), pattern: new RegExp(str(m.pattern, 'pattern'), 'gi') };
      }),
      keyNameQualifiers: strings(secrets.keyNameQualifiers, 'secrets.keyNameQualifiers'),
      keyValue: new RegExp(str(secrets.keyValue, 'secrets.keyValue')),
      envNameFragments: strings(secrets.envNameFragments, 'secrets.envNameFragments'),
      envNameTokens: strings(secrets.envNameTokens, 'secrets.envNameTokens'),
      envNameIgnoredSuffixes: strings(secrets.envNameIgnoredSuffixes, 'secrets.envNameIgnoredSuffixes'),
      urlCredentials: new RegExp(str(secrets.urlCredentials, 'secrets.urlCredentials'), 'g'),
    },
    runtime: {
      agentSchemaVersions: strings(runtime.agentSchemaVersions, 'runtime.agentSchemaVersions'),
      hubSchemaVersions: strings(runtime.hubSchemaVersions, 'runtime.hubSchemaVersions'),
      restartPolicies: strings(runtime.restartPolicies, 'runtime.restartPolicies'),
      statuses: strings(runtime.statuses, 'runtime.statuses'),
      imagePullPolicies: strings(runtime.imagePullPolicies, 'runtime.imagePullPolicies'),
      moduleTypes: strings(runtime.moduleTypes, 'runtime.moduleTypes'),
      maxChunks: num(runtime.maxChunks, 'runtime.maxChunks'),
      legacyTls: new Set(strings(runtime.legacyTls, 'runtime.legacyTls')),
      verboseLogLevels: strings(runtime.verboseLogLevels, 'runtime.verboseLogLevels'),
      maxTtlSecs: num(runtime.maxTtlSecs, 'runtime.maxTtlSecs'),
      defaultStorageFolder: str(runtime.defaultStorageFolder, 'runtime.defaultStorageFolder'),
      catchAllRoutes: regexes(runtime.catchAllRoutes, 'runtime.catchAllRoutes', 'i'),
    },
  };
}

/** src/rules/catalogue.yaml, found beside this file or, from dist/src/rules, in the source tree. */
export function catalogueFile(): string {
  const candidates = [path.join(__dirname, 'catalogue.yaml'), packagePath('src/rules/catalogue.yaml')];
  for (const file of candidates) if (existsSync(file)) return file;
  throw new Error(`rule catalogue not found (looked in ${candidates.join(', ')})`);
}

let cached: Catalogue | undefined;

export function catalogue(): Catalogue {
  cached ??= compileCatalogue(loadYaml(readFileSync(catalogueFile(), 'utf8')));
  return cached;
}

export function ruleInfo(id: string): RuleInfo {
  const info = catalogue().rules.get(id);
  if (!info) throw new Error(`unknown rule ${id}`);
  return info;
}
