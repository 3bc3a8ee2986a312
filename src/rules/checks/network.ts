import { catalogue } from '../catalogue';
import { getKey, hasTemplatePlaceholder, isObject, isTrue, type ModuleSpec } from '../model';
import type { Reporter } from '../reporter';
import { echoBare } from '../echo';

/** "8883" -> "8883/tcp"; "53/udp" stays. */
function portKey(port: string): string {
  const p = port.trim().toLowerCase();
  return p.includes('/') ? p : `${p}/tcp`;
}

/** N01–N05: network exposure. */
export function checkNetwork(r: Reporter, spec: ModuleSpec): void {
  const cat = catalogue();
  const hcKey = getKey(spec.create, 'HostConfig')?.key ?? 'HostConfig';
  const hc = getKey(spec.create, 'HostConfig')?.value;
  const reported = new Set<string>();

  const bindings = getKey(hc, 'PortBindings');
  if (bindings && isObject(bindings.value)) {
    for (const [port, list] of Object.entries(bindings.value)) {
      const key = portKey(port);
      const portPath = spec.at(hcKey, bindings.key, port);
      const entries = Array.isArray(list) ? list : [];
      entries.forEach((b, i) => {
        if (!isObject(b)) return;
        const hostIp = getKey(b, 'HostIp')?.value;
        const ip = typeof hostIp === 'string' ? hostIp.trim() : '';
        if (hasTemplatePlaceholder(ip)) return;
        if (ip === '' || ip === '0.0.0.0' || ip === '::' || ip === '[::]') {
          const hubPort = spec.role === 'edgeHub' && cat.ports.edgeHub.has(key);
          r.add('N01', spec.name, [...portPath, i], `Container port ${echoBare(key, 40)} is published on every host interface${hubPort ? " (edgeHub's own protocol port, expected when downstream devices connect)" : ''}.`, hubPort ? 'Info' : undefined);
        }
        const hostPort = getKey(b, 'HostPort')?.value;
        const hp = typeof hostPort === 'number' ? hostPort : typeof hostPort === 'string' && /^\d+$/.test(hostPort.trim()) ? Number(hostPort) : NaN;
        if (hp > 0 && hp < 1024) r.add('N02', spec.name, [...portPath, i], `Host port ${hp} (below 1024) is published.`);
      });
      if (cat.ports.ssh.has(key)) {
        r.add('N04', spec.name, portPath, `SSH port ${echoBare(key, 40)} is published.`);
        reported.add(`N04 ${key}`);
      }
      if (cat.ports.debug.has(key)) {
        r.add('N05', spec.name, portPath, `Debugger port ${echoBare(key, 40)} is published.`);
        reported.add(`N05 ${key}`);
      }
    }
  }

  const publishAll = getKey(hc, 'PublishAllPorts');
  if (publishAll && isTrue(publishAll.value)) r.add('N03', spec.name, spec.at(hcKey, publishAll.key), 'PublishAllPorts is true: every exposed port is published on a random host port.');

  const exposed = getKey(spec.create, 'ExposedPorts');
  if (exposed && isObject(exposed.value)) {
    for (const port of Object.keys(exposed.value)) {
      const key = portKey(port);
      if (cat.ports.ssh.has(key) && !reported.has(`N04 ${key}`)) r.add('N04', spec.name, spec.at(exposed.key, port), `SSH port ${echoBare(key, 40)} is exposed.`);
      if (cat.ports.debug.has(key) && !reported.has(`N05 ${key}`)) r.add('N05', spec.name, spec.at(exposed.key, port), `Debugger port ${echoBare(key, 40)} is exposed.`);
    }
  }

  for (const field of ['Cmd', 'Entrypoint']) {
    const found = getKey(spec.create, field);
    if (!found) continue;
    const args = Array.isArray(found.value) ? found.value : [found.value];
    args.forEach((a, i) => {
      if (typeof a === 'string' && cat.ports.debugArgument.test(a)) {
        r.add('N05', spec.name, Array.isArray(found.value) ? spec.at(found.key, i) : spec.at(found.key), `${field} starts a debugger listening on every interface (--inspect on 0.0.0.0).`);
      }
    });
  }
  for (const e of spec.env) {
    if (e.key === 'node_options' && e.value && cat.ports.debugArgument.test(e.value)) {
      r.add('N05', spec.name, e.path, 'NODE_OPTIONS starts the Node.js inspector on every interface.');
    }
  }
}
