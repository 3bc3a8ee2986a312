import assert from 'node:assert/strict';
import { readlinkSync, symlinkSync } from 'node:fs';
import { test } from 'node:test';
import { inHostNetworkNamespace } from '../../../src/sources/host/network-namespace';
import { HostTree } from '../../harness/host-tree';

test('network namespace of the host init compared with our own, through a proc root', () => {
  const own = readlinkSync('/proc/self/ns/net');
  const same = new HostTree();
  const other = new HostTree();
  const none = new HostTree();
  try {
    same.mkdir('/1/ns');
    symlinkSync(own, same.path('/1/ns/net'));
    other.mkdir('/1/ns');
    symlinkSync('net:[1]', other.path('/1/ns/net'));
    assert.equal(inHostNetworkNamespace(same.root), true);
    assert.equal(inHostNetworkNamespace(other.root), false);
    assert.equal(inHostNetworkNamespace(none.root), undefined, 'cannot tell: no claim');
  } finally {
    same.remove();
    other.remove();
    none.remove();
  }
});
