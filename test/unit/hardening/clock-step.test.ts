import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPipeline } from '../../../src/pipeline/pipeline';
import { RateLimiter } from '../../../src/agent/rate-limit';
import { AGENT, config, FakeClock, login, processCreate, RecordingTransport, tempDir } from '../pipeline/helpers';

// A device without an RTC: NTP steps the wall clock (FakeClock.step) while timers run on monotonic time.
const SETTINGS = { highPriorityMessageFrequency: 'PT10S', lowPriorityMessageFrequency: 'PT1M', aggregationIntervalProcessCreate: 'PT30S' };

for (const [label, stepMs] of [
  ['forward 3 h', 3 * 3_600_000],
  ['back 3 h', -3 * 3_600_000],
] as const) {
  test(`clock stepped ${label}: sends and aggregation windows keep their period, neither stalled nor in a burst`, async (t) => {
    const clock = new FakeClock();
    const transport = new RecordingTransport();
    const pipeline = await openPipeline({ ...AGENT, stateDir: tempDir(t), transport, clock }, config(SETTINGS));
    t.after(() => pipeline.close(100));
    pipeline.start();
    pipeline.ingest(processCreate(clock, '/bin/true', 1));
    await clock.advance(5_000);
    clock.step(stepMs);
    const sendsBefore = transport.attempts;
    // One high-priority event every second for a minute: exactly one High send per 10 s period.
    for (let i = 0; i < 60; i++) {
      pipeline.ingest(login(clock, `u${i}`), { urgent: true });
      await clock.advance(1_000);
    }
    const sends = transport.attempts - sendsBefore;
    assert.ok(sends >= 6 && sends <= 9, `${sends} sends in 60 s at PT10S (stall: 0, burst: many)`);
    const logins = transport.events().filter((e) => e.Name === 'Login').length;
    assert.ok(logins >= 50, `logins sent within the minute: ${logins}`);
    // The aggregation window opened before the step closes within its 30 s interval, not 3 h later.
    assert.equal(transport.events().filter((e) => e.Name === 'ProcessCreate').length, 1, 'the window closed on time');
  });
}

test('clock stepped back: the snapshot rate limiter neither refills nor owes time', () => {
  let now = 1_000_000_000;
  const limiter = new RateLimiter(1, 20_000, () => now);
  assert.equal(limiter.take(), 0);
  now -= 3 * 3_600_000;
  assert.ok(limiter.take() > 0 && limiter.take() <= 20_000, 'no refill from a backwards step, and no 3 h debt');
  now += 20_000;
  assert.equal(limiter.take(), 0);
});
