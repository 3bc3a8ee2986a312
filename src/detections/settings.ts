import type { SettingDefinition } from '../config/settings';
import { BASELINE_CATEGORIES } from './baseline';
import { parseException } from './exceptions';
import { parseCidr } from './cidr';
import { compileGlob } from './glob';

const RULE_ID = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

function eachEntry(values: unknown, check: (entry: string) => string | undefined): string | undefined {
  if (!Array.isArray(values)) return undefined;
  if (values.length > 1000) return 'at most 1000 entries';
  for (const [i, v] of values.entries()) {
    if (typeof v !== 'string') continue;
    if (v.length > 512) return `entry ${i + 1} is longer than 512 characters`;
    const why = check(v);
    if (why) return `entry ${i + 1}: ${why}`;
  }
  return undefined;
}

/** Runs a parser; its failure becomes `why` (the parser's own message may quote the value: not used). */
function tryOr(fn: () => unknown, why: string): string | undefined {
  try {
    fn();
    return undefined;
  } catch {
    return why;
  }
}

/** Every setting of the detection engine; all applied live. */
export const DETECTION_SETTINGS: readonly SettingDefinition[] = [
  { name: 'detectionsEnabled', type: 'boolean', default: true, description: 'Run the on-device detection engine (SecurityAlert and SecurityRecommendation events; docs/alerts.md lists the rules).' },
  {
    name: 'detectionRulesDisabled',
    example: ['EG-PROC-008'],
    type: 'stringList',
    default: [],
    description: 'Rule IDs that do not run (e.g. ["EG-PROC-008"]).',
    check: (v) => eachEntry(v, (e) => (RULE_ID.test(e) ? undefined : 'not a rule ID')),
  },
  {
    name: 'detectionSeverityOverrides',
    example: ['EG-LOGIN-003=Medium'],
    type: 'stringList',
    default: [],
    description: 'Severity per rule, "RULE-ID=High|Medium|Low" (e.g. ["EG-LOGIN-003=Medium"]).',
    check: (v) => eachEntry(v, (e) => (/^[A-Za-z][A-Za-z0-9_.-]{0,63}=(High|Medium|Low)$/.test(e) ? undefined : 'expected RULE-ID=High, Medium or Low')),
  },
  {
    name: 'detectionExceptions',
    example: ['EG-PROC-008:process=/tmp/vendor-updater/*', '*:user=backup'],
    type: 'stringList',
    default: [],
    description:
      'Exceptions, "RULE:kind=pattern": RULE is a rule ID or a glob over IDs (* for all), kind is process (Executable), container (container or module name), image, user or address (glob, or a CIDR network); pattern is a glob. E.g. ["EG-PROC-008:process=/tmp/vendor-updater/*", "*:user=backup"].',
    check: (v) => eachEntry(v, (e) => tryOr(() => parseException(e), 'not RULE:kind=pattern with kind process, container, image, user or address and a valid glob or network')),
  },
  {
    name: 'detectionRulesFile',
    type: 'string',
    default: '',
    description:
      'A rules file of your own (YAML, same language as the shipped rules; mount it into the module): adds rules, lists and macros, or extends lists with append: true. Regular files only, 1 MiB at most; a bad file is reported and the shipped rules keep running.',
  },
  { name: 'detectionLearningPeriod', type: 'duration', default: 'P1D', description: 'How long the baseline learns executables, listening ports, outbound destinations, container images and login users before new ones raise Low alerts.' },
  {
    name: 'detectionBaselineAccept',
    example: ['executables=/opt/app/bin/tool|'],
    type: 'stringList',
    default: [],
    description: `Deviations the operator accepts, "category=value" (categories: ${BASELINE_CATEGORIES.join(', ')}; value as the alert's DetectionKey). The acceptBaseline direct method does the same.`,
    check: (v) => eachEntry(v, (e) => (new RegExp(`^(${BASELINE_CATEGORIES.join('|')})=.+$`).test(e) ? undefined : 'expected category=value')),
  },
  { name: 'detectionBaselineRestart', type: 'string', default: '', description: 'Change this value (e.g. to a date) to forget the learned baseline and learn again for detectionLearningPeriod.' },
  { name: 'detectionAllowedUsers', type: 'stringList', default: [], description: 'Custom alert: users allowed to log in; a login of another user raises EG-CUSTOM-004 (off while empty).' },
  {
    name: 'detectionAllowedProcesses',
    example: ['/usr/bin/*', '/usr/sbin/*'],
    type: 'stringList',
    default: [],
    description: 'Custom alert: executables allowed to run (globs such as /usr/bin/*); another raises EG-CUSTOM-005 (off while empty).',
    check: (v) => eachEntry(v, (e) => tryOr(() => compileGlob(e), 'not a valid glob (unclosed [ or a trailing backslash?)')),
  },
  {
    name: 'detectionAllowedOutbound',
    example: ['10.0.0.0/8'],
    type: 'stringList',
    default: [],
    description: 'Custom alert: networks outbound connections may go to (CIDR, e.g. 10.0.0.0/8); another raises EG-CUSTOM-002 (off while empty).',
    check: (v) => eachEntry(v, (e) => tryOr(() => parseCidr([e]), 'not an address or network')),
  },
  {
    name: 'detectionAllowedImages',
    example: ['mcr.microsoft.com/*'],
    type: 'stringList',
    default: [],
    description: 'Container images allowed (globs over the image reference, e.g. myregistry.azurecr.io/*, mcr.microsoft.com/azureiotedge-*); another raises EG-CONT-006 (off while empty).',
    check: (v) => eachEntry(v, (e) => tryOr(() => compileGlob(e), 'not a valid glob (unclosed [ or a trailing backslash?)')),
  },
  { name: 'detectionConnectionsMin', type: 'integer', default: 0, minimum: 0, maximum: 10_000_000, description: 'Custom alert EG-CUSTOM-001: fewest connections expected per hour (0: no lower bound).' },
  { name: 'detectionConnectionsMax', type: 'integer', default: 0, minimum: 0, maximum: 10_000_000, description: 'Custom alert EG-CUSTOM-001: most connections expected per hour (0: no upper bound).' },
  { name: 'detectionFailedLoginsMin', type: 'integer', default: 0, minimum: 0, maximum: 10_000_000, description: 'Custom alert EG-CUSTOM-003: fewest failed logins expected per hour (0: no lower bound).' },
  { name: 'detectionFailedLoginsMax', type: 'integer', default: 0, minimum: 0, maximum: 10_000_000, description: 'Custom alert EG-CUSTOM-003: most failed logins expected per hour (0: no upper bound).' },
  { name: 'detectionMinerPools', type: 'stringList', default: [], description: 'More mining pool domains or URL fragments, added to the shipped miner_pools list.' },
  { name: 'detectionAttackTools', type: 'stringList', default: [], description: 'More attack tool names, added to the shipped attack_tools list.' },
  { name: 'detectionRansomwareNames', type: 'stringList', default: [], description: 'Ransomware executable names (EG-PROC-035), added to the shipped ransomware_names list (empty: no name ships).' },
  {
    name: 'detectionBadAddresses',
    example: ['203.0.113.0/24'],
    type: 'stringList',
    default: [],
    description: 'Known-bad addresses and networks (CIDR), added to the bad_addresses list (EG-NET-002, EG-PROC-028).',
    check: (v) => eachEntry(v, (e) => tryOr(() => parseCidr([e]), 'not an address or network')),
  },
  { name: 'detectionBadDomains', type: 'stringList', default: [], description: 'Known-bad domains, added to the bad_domains list (EG-PROC-028).' },
];

/** Settings that feed rule lists: setting -> list it extends (or replaces, for the custom alerts' allowed lists). */
export const LIST_SETTINGS: ReadonlyArray<{ setting: string; list: string }> = [
  { setting: 'detectionAllowedUsers', list: 'custom_allowed_users' },
  { setting: 'detectionAllowedProcesses', list: 'custom_allowed_processes' },
  { setting: 'detectionAllowedOutbound', list: 'custom_allowed_outbound' },
  { setting: 'detectionAllowedImages', list: 'allowed_images' },
  { setting: 'detectionMinerPools', list: 'miner_pools' },
  { setting: 'detectionAttackTools', list: 'attack_tools' },
  { setting: 'detectionRansomwareNames', list: 'ransomware_names' },
  { setting: 'detectionBadAddresses', list: 'bad_addresses' },
  { setting: 'detectionBadDomains', list: 'bad_domains' },
];

export const RANGE_SETTINGS = ['detectionConnectionsMin', 'detectionConnectionsMax', 'detectionFailedLoginsMin', 'detectionFailedLoginsMax'] as const;
