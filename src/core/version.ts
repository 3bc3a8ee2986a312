import { readFileSync } from 'node:fs';
import { packagePath } from './package-path';

let cached: string | undefined;

/** EdgeGuard's version, from its package.json (AgentVersion in messages, `edgeguard --version`). */
export function agentVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { name?: string; version?: string };
    cached = pkg.name === 'edgeguard' && pkg.version ? pkg.version : '0.0.0';
  } catch {
    cached = '0.0.0';
  }
  return cached;
}
