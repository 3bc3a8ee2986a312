import type { Severity } from '../rules/finding';

/** ANSI colours per severity (text output on a terminal). */
export const SEVERITY_COLOUR: Record<Severity, string> = {
  Critical: '\x1b[1;31m',
  High: '\x1b[31m',
  Medium: '\x1b[33m',
  Low: '\x1b[36m',
  Info: '\x1b[90m',
};
export const RESET = '\x1b[0m';
export const DIM = '\x1b[2m';
export const BOLD = '\x1b[1m';

/** SARIF result level and GitHub `security-severity` score per severity. */
export const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  Critical: 'error',
  High: 'error',
  Medium: 'warning',
  Low: 'note',
  Info: 'note',
};
export const SECURITY_SEVERITY: Record<Severity, string> = {
  Critical: '9.5',
  High: '8.0',
  Medium: '5.5',
  Low: '3.0',
  Info: '0.5',
};
