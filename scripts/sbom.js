#!/usr/bin/env node
'use strict';
// The image's SBOM, CycloneDX 1.5 JSON on stdout, from the npm lock file (production packages only:
// what `npm prune --omit=dev` leaves) and a dpkg status file (the Debian packages of the image).
//   node sbom.js package-lock.json [/var/lib/dpkg/status [app-root]]   (app-root: where node_modules is)
// Plain Node, no dependency: it runs in the runtime stage of the Dockerfiles, where npm is absent.
// Also a module: the licence check of `npm test` reads the same production package list.
const fs = require('node:fs');
const crypto = require('node:crypto');

/**
 * Production packages of a lockfile v2/v3: [{ name, version, license, integrity, path }]. The lock file
 * leaves out a licence given in the old `licenses: [{type}]` form: then it is read from the installed
 * package under `root` when there is one (alternatives joined with OR, as such packages mean it).
 */
function productionPackages(lock, root) {
  const out = [];
  for (const [path, entry] of Object.entries(lock.packages || {})) {
    if (path === '' || entry.dev || entry.link) continue;
    const name = entry.name || path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    let license = entry.license;
    if (!license && root) {
      try {
        const pkg = JSON.parse(fs.readFileSync(`${root}/${path}/package.json`, 'utf8'));
        const types = Array.isArray(pkg.licenses) ? pkg.licenses.map((l) => l && l.type).filter(Boolean) : [];
        if (typeof pkg.license === 'string') license = pkg.license;
        else if (types.length === 1) license = types[0];
        else if (types.length > 1) license = `(${types.join(' OR ')})`;
      } catch {
        // not installed here (an optional package for another platform): no licence known
      }
    }
    out.push({ name, version: entry.version, license, integrity: entry.integrity, path });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Installed packages of a dpkg status file: [{ name, version, arch, source }]. */
function debianPackages(statusText) {
  const out = [];
  for (const para of statusText.split(/\n\n+/)) {
    const field = (f) => (para.match(new RegExp(`^${f}: (.*)$`, 'm')) || [])[1];
    if (!/install ok installed/.test(field('Status') || '')) continue;
    out.push({ name: field('Package'), version: field('Version'), arch: field('Architecture'), source: field('Source') });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

function npmComponent(p) {
  const c = { type: 'library', 'bom-ref': `npm:${p.path}`, name: p.name, version: p.version, purl: `pkg:npm/${p.name.replace('@', '%40')}@${p.version}` };
  if (p.license) c.licenses = /\s(OR|AND)\s|\(/.test(p.license) ? [{ expression: p.license }] : [{ license: { id: p.license } }];
  const m = /^sha512-(.+)$/.exec(p.integrity || '');
  if (m) c.hashes = [{ alg: 'SHA-512', content: Buffer.from(m[1], 'base64').toString('hex') }];
  return c;
}

function debComponent(p) {
  const q = `arch=${encodeURIComponent(p.arch)}&distro=debian-12${p.source ? `&upstream=${encodeURIComponent(p.source.split(' ')[0])}` : ''}`;
  return { type: 'library', 'bom-ref': `deb:${p.name}:${p.arch}`, name: p.name, version: p.version, purl: `pkg:deb/debian/${p.name}@${encodeURIComponent(p.version)}?${q}` };
}

function sbom(lock, statusText, root) {
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${crypto.randomUUID()}`,
    version: 1,
    metadata: {
      timestamp: new Date().toISOString(),
      tools: { components: [{ type: 'application', name: 'edgeguard scripts/sbom.js' }] },
      component: { type: 'container', name: lock.name || 'edgeguard', version: lock.version },
    },
    components: [
      { type: 'platform', 'bom-ref': 'node', name: 'node', version: process.versions.node, purl: `pkg:generic/node@${process.versions.node}` },
      ...productionPackages(lock, root).map(npmComponent),
      ...(statusText ? debianPackages(statusText).map(debComponent) : []),
    ],
  };
}

module.exports = { productionPackages, debianPackages, sbom };

if (require.main === module) {
  const [lockFile, statusFile, root] = process.argv.slice(2);
  if (!lockFile) {
    console.error('usage: sbom.js package-lock.json [dpkg-status]');
    process.exit(2);
  }
  const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8'));
  const status = statusFile ? fs.readFileSync(statusFile, 'utf8') : '';
  process.stdout.write(`${JSON.stringify(sbom(lock, status, root), null, 1)}\n`);
}
