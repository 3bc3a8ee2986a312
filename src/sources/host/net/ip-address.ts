import { endianness } from 'node:os';

/**
 * Addresses as the kernel prints them in /proc/net/{tcp,udp}{,6}: each 32-bit word of the address
 * (network byte order in memory) is printed with %08X as a native integer, so on a little-endian
 * CPU every 4-byte group comes out byte-reversed. Ports are printed after ntohs: plain hex.
 */

const LITTLE_ENDIAN = endianness() === 'LE';

/** The address bytes in network order, from the kernel's hex text (8 or 32 hex digits). */
export function hexAddressBytes(hex: string, littleEndian = LITTLE_ENDIAN): Buffer | undefined {
  if ((hex.length !== 8 && hex.length !== 32) || !/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  if (littleEndian) {
    for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  }
  return bytes;
}

function formatIpv4(bytes: Buffer | Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952 text of 16 address bytes: lower case, no leading zeros, the longest zero run (≥ 2 groups) as "::". */
export function formatIpv6(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** ::ffff:a.b.c.d — an IPv4 peer of a dual-stack IPv6 socket. */
function isV4Mapped(bytes: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Text of a kernel hex address. IPv4-mapped IPv6 addresses (a dual-stack socket talking to an IPv4
 * peer) come out as plain dotted IPv4, since that is the address on the wire.
 */
export function decodeHexAddress(hex: string, littleEndian = LITTLE_ENDIAN): string | undefined {
  const bytes = hexAddressBytes(hex, littleEndian);
  return bytes ? formatAddressBytes(bytes) : undefined;
}

/** Text of 4 (IPv4) or 16 (IPv6) address bytes in network order; v4-mapped IPv6 as dotted IPv4. */
export function formatAddressBytes(bytes: Buffer): string {
  if (bytes.length === 4) return formatIpv4(bytes);
  return isV4Mapped(bytes) ? formatIpv4(bytes.subarray(12)) : formatIpv6(bytes);
}

export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || /^127\./.test(address);
}

export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}
