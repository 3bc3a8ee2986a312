import { isIP } from 'node:net';

/** True when an address (IPv4, IPv6, IPv4-mapped IPv6) is inside one of the networks. */
export type CidrMatcher = (address: string) => boolean;

function v4ToInt(text: string): number {
  const parts = text.split('.').map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function v6ToBigInt(text: string): bigint {
  let body = text;
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.')) {
    const v4 = v4ToInt(body.slice(lastColon + 1));
    tail = [v4 >>> 16, v4 & 0xffff];
    body = body.slice(0, lastColon) + (body[lastColon - 1] === ':' ? ':' : '');
  }
  const [head, rest] = body.includes('::') ? body.split('::') : [body, undefined];
  const h = head ? head.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16)) : [];
  const r = rest !== undefined && rest !== '' ? rest.split(':').map((x) => parseInt(x, 16)) : [];
  const groups = rest === undefined ? [...h, ...tail] : [...h, ...new Array<number>(8 - h.length - r.length - tail.length).fill(0), ...r, ...tail];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(g);
  return n;
}

/** Normalises "::ffff:1.2.3.4" to "1.2.3.4" so IPv4 networks match mapped addresses. */
function unmap(address: string): string {
  if (address.length < 8 || address.charCodeAt(0) !== 58 /* : */) return address;
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4 ? lower.slice(7) : address;
}

/** Dotted-quad IPv4 to a number without allocating; -1 when `text` is not one. */
function fastV4(text: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return n * 256 + part;
}

/** Parses "10.0.0.0/8", "192.168.1.5", "fd00::/8"…; throws on a malformed entry. */
export function parseCidr(entries: readonly string[]): CidrMatcher {
  const v4: Array<{ net: number; mask: number }> = [];
  const v6: Array<{ net: bigint; mask: bigint }> = [];
  for (const entry of entries) {
    const [addr, bitsText] = entry.split('/');
    const family = isIP(addr ?? '');
    if (family === 0) throw new Error(`"${entry}" is not an address or network`);
    const max = family === 4 ? 32 : 128;
    const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
    if (!(bits >= 0 && bits <= max)) throw new Error(`"${entry}" has a bad prefix length`);
    if (family === 4) {
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      v4.push({ net: (v4ToInt(addr!) & mask) >>> 0, mask });
    } else {
      const mask = bits === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - bits)) - 1n);
      v6.push({ net: v6ToBigInt(addr!) & mask, mask });
    }
  }
  return (address: string): boolean => {
    const a = unmap(address);
    const quick = fastV4(a);
    if (quick >= 0) return v4.some((x) => ((quick & x.mask) >>> 0) === x.net);
    const family = isIP(a);
    if (family === 4) {
      const n = v4ToInt(a);
      return v4.some((x) => ((n & x.mask) >>> 0) === x.net);
    }
    if (family === 6) {
      const n = v6ToBigInt(a);
      return v6.some((x) => (n & x.mask) === x.net);
    }
    return false;
  };
}
