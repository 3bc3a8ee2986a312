import { catalogue } from '../catalogue';
import type { Segment } from '../json-path';
import { findEnv, getKey, hasTemplatePlaceholder, isFalse, isObject, isTrue, type ModuleSpec } from '../model';
import type { Reporter } from '../reporter';
import { echoBare, echoName } from '../echo';

function isUnder(path: string, root: string): boolean {
  const r = root.replace(/\/+$/, '') || '/';
  return path === r || r === '/' || path.startsWith(`${r}/`);
}

function publishedPorts(spec: ModuleSpec): Set<string> {
  const bindings = getKey(getKey(spec.create, 'HostConfig')?.value, 'PortBindings')?.value;
  return new Set(isObject(bindings) ? Object.keys(bindings).map((p) => (p.includes('/') ? p.toLowerCase() : `${p.toLowerCase()}/tcp`)) : []);
}

/**
 * H01–H06, H09 on edgeAgent/edgeHub. `downstreamExpected`: true when routes or broker settings show
 * devices connect to edgeHub (H04 is then silent); undefined when unknown (running containers).
 */
export function checkRuntimeModule(r: Reporter, spec: ModuleSpec, downstreamExpected?: boolean): void {
  const cat = catalogue();
  const experimental = findEnv(spec, 'experimentalfeatures:enabled');
  if (experimental && isTrue(experimental.value)) r.add('H03', spec.name, experimental.path, `${echoName(experimental.name) ?? 'An experimental-features setting'} is true: experimental features are on.`);
  if (spec.role === 'module') return;

  if (spec.role === 'edgeHub') {
    const ssl = findEnv(spec, 'sslprotocols');
    if (ssl?.value && !hasTemplatePlaceholder(ssl.value)) {
      const legacy = ssl.value.split(/[,;|\s]+/).map((p) => p.trim().toLowerCase()).filter((p) => cat.runtime.legacyTls.has(p));
      if (legacy.length > 0) r.add('H01', spec.name, ssl.path, `SslProtocols allows ${legacy.join(', ')} (TLS 1.0/1.1).`);
    }
    const auth = findEnv(spec, 'authenticationmode');
    if (auth?.value?.trim().toLowerCase() === 'cloud') r.add('H02', spec.name, auth.path, 'AuthenticationMode is Cloud: clients cannot authenticate while the device is offline.');
    for (const key of ['encrypttwinstore', 'usepersistentstorage']) {
      const e = findEnv(spec, key);
      if (e && isFalse(e.value)) r.add('H09', spec.name, e.path, `${echoName(e.name) ?? 'A store-protection setting'} is false.`);
    }
    if (downstreamExpected === false) {
      const published = publishedPorts(spec);
      for (const head of cat.ports.heads) {
        const setting = findEnv(spec, head.setting);
        const enabled = !setting || !isFalse(setting.value);
        const port = head.ports.find((p) => published.has(p));
        if (enabled && port) {
          const hcKey = getKey(spec.create, 'HostConfig')?.key ?? 'HostConfig';
          const pbKey = getKey(getKey(spec.create, 'HostConfig')?.value, 'PortBindings')?.key ?? 'PortBindings';
          const portName = Object.keys(getKey(getKey(spec.create, 'HostConfig')?.value, 'PortBindings')?.value as object).find((p) => (p.includes('/') ? p.toLowerCase() : `${p}/tcp`) === port) ?? port;
          r.add('H04', spec.name, spec.at(hcKey, pbKey, portName), `The ${head.head} protocol head is enabled and its port ${echoBare(port, 40)} published, but no route or broker setting shows a downstream device using it.`);
        }
      }
    }
  }

  const storage = findEnv(spec, 'storagefolder');
  const folder = storage?.value?.trim() || cat.runtime.defaultStorageFolder;
  if (!hasTemplatePlaceholder(folder) && folder.startsWith('/')) {
    const persisted = spec.mounts.some((m) => m.target && m.kind !== 'other' && isUnder(folder, m.target));
    if (!persisted) {
      const where: Segment[] = storage ? storage.path : spec.at(getKey(spec.create, 'HostConfig')?.key ?? 'HostConfig');
      r.add('H05', spec.name, where, `${echoName(spec.name) ?? 'The module'} stores its state in ${echoBare(folder)}${storage ? '' : ' (default)'}, which is not on a host mount or volume: it is lost when the container is recreated.`);
    }
  }

  const level = findEnv(spec, 'runtimeloglevel');
  if (level?.value && cat.runtime.verboseLogLevels.includes(level.value.trim().toLowerCase())) r.add('H06', spec.name, level.path, `RuntimeLogLevel is ${echoBare(level.value, 40)}.`);
  for (const key of ['enablesdkdebuglogs', 'enableroutinglogging']) {
    const e = findEnv(spec, key);
    if (e && isTrue(e.value)) r.add('H06', spec.name, e.path, `${echoName(e.name) ?? 'A debug-logging setting'} is true.`);
  }
}

/** H10: edgeAgent and edgeHub must talk upstream the same way (default Amqp). */
export function checkUpstreamProtocol(r: Reporter, agent: ModuleSpec | undefined, hub: ModuleSpec | undefined): void {
  if (!agent || !hub) return;
  const a = findEnv(agent, 'upstreamprotocol');
  const h = findEnv(hub, 'upstreamprotocol');
  if (!a && !h) return;
  if ((a && a.value === undefined) || (h && h.value === undefined) || hasTemplatePlaceholder(a?.value) || hasTemplatePlaceholder(h?.value)) return;
  const av = (a?.value ?? 'Amqp').trim();
  const hv = (h?.value ?? 'Amqp').trim();
  if (av.toLowerCase() !== hv.toLowerCase()) r.add('H10', hub.name, (h ?? a)!.path, `UpstreamProtocol differs: edgeAgent ${echoBare(av, 40)}${a ? '' : ' (default)'}, edgeHub ${echoBare(hv, 40)}${h ? '' : ' (default)'}.`);
}
