import { configurationErrorEvent } from '../../../src/config/config-store';
import { runAgent } from '../../../src/main';
import { ALL_SOURCES } from '../../../src/sources/index';
import type { SourceDefinition } from '../../../src/sources/source';

/**
 * The agent process (runAgent, as dist/src/main.js runs it) with one extra source, for faults.test.ts:
 *   `source`: the Faulty source throws from a timer 300 ms after each of its first two starts;
 *   `agent`:  code outside any source throws 1.5 s after start, once an event is queued.
 * Not a test file: run without an argument by a runner that collects everything under test/, it does nothing.
 */
const mode = process.argv[2];
let starts = 0;

const faulty: SourceDefinition = {
  name: 'Faulty',
  description: 'test source that throws from a callback',
  events: [],
  settings: [],
  async start(ctx) {
    starts++;
    const n = starts;
    ctx.emit(configurationErrorEvent([{ setting: 'Faulty', errorType: 'NotOptimal', usedConfiguration: 'test', message: `faulty source start ${n}`, key: `faulty${n}` }]));
    const timer = mode === 'source' && n <= 2 ? setTimeout(() => {
      throw new Error(`faulty source bug ${n}`);
    }, 300) : undefined;
    return { stop: async () => clearTimeout(timer) };
  },
};

if (mode === 'source' || mode === 'agent') {
  const sources = ALL_SOURCES.filter((s) => s.name === 'SystemInformation');
  void runAgent({ sources: [...sources, faulty] });
  if (mode === 'agent') {
    setTimeout(() => {
      throw new Error('agent bug outside any source');
    }, 4000);
  }
}
