/**
 * ISO 8601 durations as the Defender twin uses them (PT7M, PT5H, P1D, PT1.5S …).
 * Years and months are taken as 365 and 30 days: the agent only needs an interval.
 */
const DURATION =
  /^P(?!$)(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?=\d)(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

const UNIT_MS = [365 * 86_400_000, 30 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000];

/** Milliseconds in an ISO 8601 duration, or undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  let total = 0;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = match[i + 1];
    if (part !== undefined) total += Number(part) * UNIT_MS[i]!;
  }
  return Math.round(total);
}

/** setTimeout and setInterval turn a delay above 2^31-1 ms (24.8 days) into 1 ms: no timer may be asked for more. */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;
/** Longest duration any setting accepts (P24D), below MAX_TIMER_DELAY_MS; longer ones are refused by validation. */
export const MAX_SETTING_DURATION = 'P24D';
/** Shortest duration a setting accepts unless it declares its own minimum. */
export const MIN_SETTING_DURATION = 'PT0.05S';

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `PT${ms / 3_600_000}H`;
  if (ms % 60_000 === 0) return `PT${ms / 60_000}M`;
  return `PT${ms / 1000}S`;
}
