import { catalogue } from '../catalogue';
import type { ModuleSpec } from '../model';
import type { Reporter } from '../reporter';
import { isPlaceholder } from './secrets';
import { echoBare } from '../echo';

export interface ImageRef {
  /** Registry host when the reference names one (has a dot or a port, or is localhost). */
  registry?: string;
  /** Repository path without the registry. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImage(image: string): ImageRef {
  const [namePart = '', digest] = image.trim().split('@', 2);
  const slash = namePart.lastIndexOf('/');
  const colon = namePart.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? namePart.slice(0, colon) : namePart;
  const tag = hasTag ? namePart.slice(colon + 1) : undefined;
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return { registry: hasRegistry ? first.toLowerCase() : undefined, repository: hasRegistry ? name.slice(first.length + 1) : name, tag, digest };
}

const VERSION = /^(\d+)\.(\d+)(?:\.(\d+))?(?:[-.].*)?$/;

function unknownPart(text: string | undefined): boolean {
  return text !== undefined && (text.includes('${') || text.includes('$(') || isPlaceholder(text) || /__\w+__/.test(text));
}

/** I01–I05 on the module's image; I06 when the deployment's registry credentials are known. */
export function checkImage(r: Reporter, spec: ModuleSpec, registryAddresses?: readonly string[]): void {
  const cat = catalogue();
  if (!spec.image) return;
  const { value, path } = spec.image;
  if (value.trim() === '' || unknownPart(value.split(/[:@]/)[0]) || value.trim().startsWith('${')) return;
  const ref = parseImage(value);
  const tagUnknown = unknownPart(ref.tag) || unknownPart(ref.digest);
  const lastName = ref.repository.split('/').pop() ?? '';

  if (!tagUnknown) {
    if (!ref.digest && (ref.tag === undefined || ref.tag === 'latest')) r.add('I01', spec.name, path, `Image ${echoBare(value)} runs ${ref.tag ? 'the mutable :latest tag' : 'with no tag (:latest)'}.`);
    if (!ref.digest?.toLowerCase().startsWith('sha256:')) r.add('I02', spec.name, path, `Image ${echoBare(value)} is not pinned by digest.`);
  }
  if (/debug/i.test(lastName) || (!tagUnknown && /debug/i.test(ref.tag ?? ''))) r.add('I04', spec.name, path, `Image ${echoBare(value)} looks like a debug build.`);

  const isRuntime = lastName === cat.images.runtimeAgent || lastName === cat.images.runtimeHub;
  if (isRuntime && !tagUnknown && ref.tag) {
    const m = VERSION.exec(ref.tag);
    if (m) {
      const [major, minor] = [Number(m[1]), Number(m[2])];
      if (m[3] === undefined) r.add('I03', spec.name, path, `Runtime image ${echoBare(lastName, 60)} uses the rolling tag ${echoBare(ref.tag, 40)}.`);
      const [bMajor, bMinor] = cat.images.unsupportedBelow.split('.').map(Number) as [number, number];
      const majorMinor = `${major}.${minor}`;
      if (major < bMajor || (major === bMajor && minor < bMinor)) r.add('I05', spec.name, path, `Runtime image ${echoBare(`${lastName}:${ref.tag}`, 100)} is IoT Edge ${majorMinor}, no longer supported.`);
      else if (cat.images.endOfLife.includes(majorMinor)) r.add('I05', spec.name, path, `Runtime image ${echoBare(`${lastName}:${ref.tag}`, 100)} is IoT Edge ${majorMinor}, past its end of life.`, 'Medium');
    }
  }

  if (registryAddresses && ref.registry && !cat.images.publicRegistries.has(ref.registry)) {
    const known = registryAddresses.some((a) => a.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '') === ref.registry);
    if (!known) r.add('I06', spec.name, path, `Image registry ${echoBare(ref.registry, 100)} is not listed in registryCredentials.`);
  }
}
