import { catalogue } from '../catalogue';
import { getKey, hasTemplatePlaceholder, isObject, isTrue, type ModuleSpec, type MountSpec } from '../model';
import type { Reporter } from '../reporter';
import { echoBare, echoValue } from '../echo';

function hostConfig(spec: ModuleSpec): unknown {
  return getKey(spec.create, 'HostConfig')?.value;
}

function normaliseCapability(cap: string): string {
  return cap.trim().toUpperCase().replace(/^CAP_/, '');
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') ? root : `${root}/`);
}

function cleanHostPath(source: string): string {
  const collapsed = source.replace(/\/+/g, '/');
  return collapsed.length > 1 ? collapsed.replace(/\/$/, '') : collapsed;
}

function namespaceRule(r: Reporter, spec: ModuleSpec, hc: unknown, key: string, ruleId: string, what: string): void {
  const found = getKey(hc, key);
  if (found && typeof found.value === 'string' && found.value.trim().toLowerCase() === 'host') {
    r.add(ruleId, spec.name, spec.at('HostConfig', found.key), `${key}=host: the module shares the host's ${what} namespace.`);
  }
}

function checkMount(r: Reporter, spec: ModuleSpec, m: MountSpec): void {
  const cat = catalogue();
  if (m.kind !== 'bind' || !m.source.startsWith('/')) return;
  const source = cleanHostPath(m.source);
  const base = source.slice(source.lastIndexOf('/') + 1);
  if (cat.paths.runtimeSockets.includes(base)) {
    r.add('C09', spec.name, m.path, `The container-runtime socket ${echoBare(source)} is mounted into the module: full control of the host.`);
    return;
  }
  if (cat.paths.iotedgeControl.some((p) => isUnder(source, p))) {
    const expected = cat.paths.iotedgeExpected.some((e) => e.source.test(source) && e.roles.includes(spec.role));
    if (!expected) r.add('C10', spec.name, m.path, `IoT Edge control or identity path ${echoBare(source)} is mounted into the module.`);
    return;
  }
  if (m.readOnly && cat.paths.benignReadOnly.some((p) => isUnder(source, p))) return;
  const sensitive = source === '/' || cat.paths.sensitive.some((p) => isUnder(source, p));
  if (sensitive) {
    r.add('C11', spec.name, m.path, `Host path ${echoBare(source)} is mounted ${m.readOnly ? 'read-only' : 'writable'}.`, m.readOnly ? 'Medium' : 'High');
  }
}

/** C01–C20: container isolation. */
export function checkIsolation(r: Reporter, spec: ModuleSpec): void {
  const cat = catalogue();
  const hc = hostConfig(spec);
  const hcKey = getKey(spec.create, 'HostConfig')?.key ?? 'HostConfig';
  const at = (key: string, ...rest: (string | number)[]) => spec.at(hcKey, key, ...rest);

  const privileged = getKey(hc, 'Privileged');
  if (privileged && isTrue(privileged.value)) r.add('C01', spec.name, at(privileged.key), 'The module runs privileged: every capability and every host device.');

  const capAdd = getKey(hc, 'CapAdd');
  if (capAdd && Array.isArray(capAdd.value)) {
    capAdd.value.forEach((c, i) => {
      if (typeof c !== 'string' || hasTemplatePlaceholder(c)) return;
      const cap = normaliseCapability(c);
      if (cat.capabilities.dangerous.has(cap)) r.add('C02', spec.name, at(capAdd.key, i), `Capability ${echoBare(cap, 40)} is added.`);
      else if (!cat.capabilities.dockerDefault.has(cap)) r.add('C03', spec.name, at(capAdd.key, i), `Capability ${echoBare(cap, 40)} is added beyond Docker's default set.`);
    });
  }

  const networkMode = getKey(hc, 'NetworkMode');
  if (networkMode && typeof networkMode.value === 'string' && networkMode.value.trim().toLowerCase() === 'host') {
    r.add('C04', spec.name, at(networkMode.key), "NetworkMode=host: the module shares the host's network namespace.");
  }
  const networking = getKey(spec.create, 'NetworkingConfig');
  const endpoints = getKey(networking?.value, 'EndpointsConfig');
  const hostEndpoint = getKey(endpoints?.value, 'host');
  if (networking && endpoints && hostEndpoint) {
    r.add('C04', spec.name, spec.at(networking.key, endpoints.key, hostEndpoint.key), "The module is attached to the host network: it shares the host's network namespace.");
  }
  namespaceRule(r, spec, hc, 'PidMode', 'C05', 'process');
  namespaceRule(r, spec, hc, 'IpcMode', 'C06', 'IPC');
  namespaceRule(r, spec, hc, 'UTSMode', 'C07', 'UTS');
  namespaceRule(r, spec, hc, 'UsernsMode', 'C08', 'user');

  for (const m of spec.mounts) checkMount(r, spec, m);

  const securityOpt = getKey(hc, 'SecurityOpt');
  const options = securityOpt && Array.isArray(securityOpt.value) ? securityOpt.value : [];
  let noNewPrivileges = false;
  options.forEach((o, i) => {
    if (typeof o !== 'string') return;
    const opt = o.trim().toLowerCase().replace(/\s+/g, '');
    const [name, value = ''] = opt.split(/[=:]/, 2) as [string, string?];
    if (name === 'seccomp' && value === 'unconfined') r.add('C12', spec.name, at(securityOpt!.key, i), 'seccomp=unconfined: the system-call filter is off.');
    if (name === 'apparmor' && value === 'unconfined') r.add('C13', spec.name, at(securityOpt!.key, i), 'apparmor=unconfined: the AppArmor profile is off.');
    if (name === 'label' && value === 'disable') r.add('C14', spec.name, at(securityOpt!.key, i), 'label=disable: SELinux labelling is off.');
    if (name === 'no-new-privileges' && (value === '' || value === 'true')) noNewPrivileges = true;
  });

  const devices = getKey(hc, 'Devices');
  if (devices && Array.isArray(devices.value)) {
    devices.value.forEach((d, i) => {
      const hostPath = isObject(d) ? getKey(d, 'PathOnHost')?.value : typeof d === 'string' ? d.split(':')[0] : undefined;
      if (typeof hostPath !== 'string' || hasTemplatePlaceholder(hostPath)) return;
      const raw = cat.devices.raw.some((p) => p.test(hostPath));
      r.add('C15', spec.name, at(devices.key, i), `Host device ${echoBare(hostPath)} is mapped into the module${raw ? ' (raw storage or memory device)' : ''}.`, raw ? 'Medium' : undefined);
    });
  }
  const cgroupRules = getKey(hc, 'DeviceCgroupRules');
  if (cgroupRules && Array.isArray(cgroupRules.value)) {
    cgroupRules.value.forEach((rule, i) => {
      if (typeof rule !== 'string') return;
      const wildcard = cat.devices.wildcardCgroupRule.test(rule.trim());
      r.add('C15', spec.name, at(cgroupRules.key, i), `Device cgroup rule ${echoValue(rule, 60)} lets the module use host devices${wildcard ? ' of every major and minor number' : ''}.`, wildcard ? 'Medium' : undefined);
    });
  }

  for (const m of spec.mounts) {
    if (m.propagation === 'shared' || m.propagation === 'rshared') {
      r.add('C16', spec.name, m.path, `Mount of ${echoBare(m.source)} uses ${echoBare(m.propagation, 20)} propagation: mounts made in the container reach the host.`);
    }
  }

  const user = getKey(spec.create, 'User');
  if (user && typeof user.value === 'string') {
    const u = user.value.trim().toLowerCase();
    if (u === 'root' || u === '0' || u.startsWith('0:') || u.startsWith('root:')) r.add('C17', spec.name, spec.at(user.key), `User is set to ${echoBare(user.value, 40)}: the module explicitly runs as root.`);
  }

  const sysctls = getKey(hc, 'Sysctls');
  if (sysctls && isObject(sysctls.value)) {
    for (const name of Object.keys(sysctls.value)) {
      if (!cat.sysctls.namespacedSafe.has(name)) r.add('C18', spec.name, at(sysctls.key, name), `Sysctl ${echoBare(name, 80)} is outside the namespaced-safe set.`);
    }
  }

  if (!noNewPrivileges) r.add('C19', spec.name, securityOpt ? at(securityOpt.key) : spec.at(hcKey), 'SecurityOpt does not contain no-new-privileges.');

  const readonlyRootfs = getKey(hc, 'ReadonlyRootfs');
  if (!readonlyRootfs || !isTrue(readonlyRootfs.value)) {
    if (!hasTemplatePlaceholder(readonlyRootfs?.value)) r.add('C20', spec.name, readonlyRootfs ? at(readonlyRootfs.key) : spec.at(hcKey), 'The root filesystem is writable.');
  }
}
