import { getKey, hasTemplatePlaceholder, isObject, isTrue, type ModuleSpec } from '../model';
import type { Reporter } from '../reporter';
import { echoBare } from '../echo';

function positive(value: unknown): boolean {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0;
}

/** R01–R05: resource limits. A `${VAR}` value counts as set (unknown, never a finding). */
export function checkResources(r: Reporter, spec: ModuleSpec): void {
  const hcKey = getKey(spec.create, 'HostConfig')?.key ?? 'HostConfig';
  const hc = getKey(spec.create, 'HostConfig')?.value;
  const at = (...rest: (string | number)[]) => spec.at(hcKey, ...rest);
  const set = (key: string) => {
    const v = getKey(hc, key);
    return v !== undefined && (positive(v.value) || hasTemplatePlaceholder(v.value));
  };

  const memory = getKey(hc, 'Memory');
  if (!set('Memory')) r.add('R01', spec.name, memory ? at(memory.key) : at(), 'HostConfig.Memory is not set (absent or 0).');

  if (!set('NanoCpus') && !set('CpuQuota') && !set('CpuShares')) r.add('R02', spec.name, at(), 'None of HostConfig.NanoCpus, CpuQuota or CpuShares is set.');

  const pids = getKey(hc, 'PidsLimit');
  if (!set('PidsLimit')) r.add('R03', spec.name, pids ? at(pids.key) : at(), 'HostConfig.PidsLimit is absent, 0 or -1.');

  const oom = getKey(hc, 'OomKillDisable');
  if (oom && isTrue(oom.value)) r.add('R04', spec.name, at(oom.key), 'OomKillDisable is true: the kernel cannot kill the module when memory runs out.');

  const logConfig = getKey(hc, 'LogConfig');
  if (!logConfig || !isObject(logConfig.value)) {
    r.add('R05', spec.name, at(), 'No LogConfig: logs rotate only if the daemon default (daemon.json log-opts) sets max-size and max-file.');
  } else {
    const type = getKey(logConfig.value, 'Type')?.value;
    const driver = typeof type === 'string' && type.trim() !== '' ? type.trim().toLowerCase() : '';
    if (driver === '' || driver === 'json-file' || driver === 'local') {
      const config = getKey(logConfig.value, 'Config')?.value;
      const hasSize = getKey(config, 'max-size') !== undefined;
      const hasFiles = getKey(config, 'max-file') !== undefined;
      if (!hasSize || !hasFiles) {
        r.add('R05', spec.name, at(logConfig.key), `Log driver ${driver ? echoBare(driver, 40) : '(daemon default)'} without ${!hasSize && !hasFiles ? 'max-size and max-file' : !hasSize ? 'max-size' : 'max-file'}: the daemon default may cover it, otherwise logs grow unbounded.`);
      }
    }
  }
}
