import path from 'node:path';
import type { BaselineCheck, CheckOutcome } from './check-types';
import {
  aziotReadableByOthers,
  atLeast,
  dockerLogRotation,
  dockerTcpWithoutTls,
  emptyPasswords,
  equals,
  err,
  extraUidZero,
  fail,
  fileModeCheck,
  pass,
  sshdSetting,
  sudoersCheck,
  sysctlCheck,
  tmpSticky,
  worldWritable,
} from './evaluators';
import { errorText, type HostView } from './host-view';

export type { BaselineCheck, BaselineResult, BaselineSeverity, CheckOutcome } from './check-types';

/** The checks, in id order. */
export const BASELINE_CHECKS: readonly BaselineCheck[] = [
  {
    id: 'EG-OSB-001',
    severity: 'Critical',
    description: 'SSH root login with a password is not permitted (PermitRootLogin is not yes)',
    remediation: 'Set "PermitRootLogin no" (or prohibit-password) in /etc/ssh/sshd_config outside any Match block and reload sshd.',
    evaluate: sshdSetting('PermitRootLogin', 'prohibit-password', (v) => v !== 'yes', 'root may log in with a password'),
  },
  {
    id: 'EG-OSB-002',
    severity: 'Important',
    description: 'SSH password authentication is disabled (PasswordAuthentication no)',
    remediation: 'Set "PasswordAuthentication no" in /etc/ssh/sshd_config (before any Include that sets it otherwise) and use keys.',
    evaluate: sshdSetting('PasswordAuthentication', 'yes', (v) => v === 'no', 'passwords can be guessed over the network'),
  },
  {
    id: 'EG-OSB-003',
    severity: 'Critical',
    description: 'SSH does not accept empty passwords (PermitEmptyPasswords no)',
    remediation: 'Remove "PermitEmptyPasswords yes" from the sshd configuration.',
    evaluate: sshdSetting('PermitEmptyPasswords', 'no', (v) => v !== 'yes', 'accounts without a password can log in'),
  },
  {
    id: 'EG-OSB-004',
    severity: 'Warning',
    description: 'SSH allows at most 4 authentication attempts per connection (MaxAuthTries)',
    remediation: 'Set "MaxAuthTries 4" (or lower) in /etc/ssh/sshd_config.',
    evaluate: sshdSetting('MaxAuthTries', '6', (v) => /^\d+$/.test(v) && Number(v) <= 4, 'more guesses per connection'),
  },
  {
    id: 'EG-OSB-005',
    severity: 'Informational',
    description: 'SSH X11 forwarding is disabled (X11Forwarding no)',
    remediation: 'Set "X11Forwarding no" in /etc/ssh/sshd_config; a gateway has no display.',
    evaluate: sshdSetting('X11Forwarding', 'no', (v) => v !== 'yes', 'X11 forwarding enabled'),
  },
  {
    id: 'EG-OSB-006',
    severity: 'Warning',
    description: 'SSH users cannot set environment options (PermitUserEnvironment no)',
    remediation: 'Set "PermitUserEnvironment no" in /etc/ssh/sshd_config.',
    evaluate: sshdSetting('PermitUserEnvironment', 'no', (v) => v === 'no', 'users can pass environment (LD_PRELOAD…) to their session'),
  },
  {
    id: 'EG-OSB-007',
    severity: 'Warning',
    description: 'SSH host-based authentication is disabled (HostbasedAuthentication no)',
    remediation: 'Set "HostbasedAuthentication no" in /etc/ssh/sshd_config.',
    evaluate: sshdSetting('HostbasedAuthentication', 'no', (v) => v !== 'yes', 'trust based on the client host'),
  },
  {
    id: 'EG-OSB-008',
    severity: 'Critical',
    description: 'No account has an empty password',
    remediation: 'Lock the accounts (passwd -l USER) or set a password; never leave the shadow password field empty.',
    evaluate: emptyPasswords,
  },
  {
    id: 'EG-OSB-009',
    severity: 'Critical',
    description: 'Only root has user id 0',
    remediation: 'Remove or renumber the other uid-0 accounts in /etc/passwd.',
    evaluate: extraUidZero,
  },
  {
    id: 'EG-OSB-010',
    severity: 'Important',
    description: '/etc/passwd is owned by root and not writable by group or others',
    remediation: 'chown root:root /etc/passwd && chmod 644 /etc/passwd',
    evaluate: fileModeCheck('/etc/passwd', { forbidden: 0o022, owners: [0] }, err('/etc/passwd not found')),
  },
  {
    id: 'EG-OSB-011',
    severity: 'Critical',
    description: '/etc/shadow is owned by root, not writable by its group and not accessible to others',
    remediation: 'chown root:shadow /etc/shadow && chmod 640 /etc/shadow (or 600)',
    evaluate: fileModeCheck('/etc/shadow', { forbidden: 0o027, owners: [0] }, err('/etc/shadow not found')),
  },
  {
    id: 'EG-OSB-012',
    severity: 'Important',
    description: '/etc/group is owned by root and not writable by group or others',
    remediation: 'chown root:root /etc/group && chmod 644 /etc/group',
    evaluate: fileModeCheck('/etc/group', { forbidden: 0o022, owners: [0] }, err('/etc/group not found')),
  },
  {
    id: 'EG-OSB-013',
    severity: 'Important',
    description: '/etc/gshadow is owned by root, not writable by its group and not accessible to others',
    remediation: 'chown root:shadow /etc/gshadow && chmod 640 /etc/gshadow',
    evaluate: fileModeCheck('/etc/gshadow', { forbidden: 0o027, owners: [0] }, pass('no /etc/gshadow')),
  },
  {
    id: 'EG-OSB-014',
    severity: 'Important',
    description: '/etc/sudoers and /etc/sudoers.d/* are owned by root, not writable by group or others, not readable by others',
    remediation: 'chown root:root /etc/sudoers /etc/sudoers.d/* && chmod 440 /etc/sudoers /etc/sudoers.d/*',
    evaluate: sudoersCheck,
  },
  {
    id: 'EG-OSB-015',
    severity: 'Important',
    description: '/etc/crontab is owned by root and not writable by group or others',
    remediation: 'chown root:root /etc/crontab && chmod 600 /etc/crontab',
    evaluate: fileModeCheck('/etc/crontab', { forbidden: 0o022, owners: [0] }, pass('no /etc/crontab')),
  },
  {
    id: 'EG-OSB-016',
    severity: 'Critical',
    description: 'The Docker daemon does not listen on TCP without TLS client verification',
    remediation: 'Remove tcp:// entries from "hosts" in /etc/docker/daemon.json and -H tcp://… from the docker.service ExecStart, or set tlsverify with tlscacert/tlscert/tlskey.',
    evaluate: dockerTcpWithoutTls,
  },
  {
    id: 'EG-OSB-017',
    severity: 'Warning',
    description: 'Container engine rotates module logs (daemon.json log-driver, log-opts max-size and max-file; iotedge check "production readiness: logs policy")',
    remediation: 'In /etc/docker/daemon.json set "log-driver": "local" (or json-file) and "log-opts": {"max-size": "10m", "max-file": "3"}, then restart the engine.',
    evaluate: dockerLogRotation,
  },
  {
    id: 'EG-OSB-018',
    severity: 'Critical',
    description: 'IoT Edge configuration and key files (/etc/aziot, /var/lib/aziot/keyd/keys) are not readable by all users',
    remediation: 'chmod o-r on the files listed (aziot services own them; config.toml 0600 root), then `iotedge config apply`.',
    evaluate: aziotReadableByOthers,
  },
  {
    id: 'EG-OSB-019',
    severity: 'Important',
    description: 'Kernel address space layout randomisation is fully enabled (kernel.randomize_va_space = 2)',
    remediation: 'echo "kernel.randomize_va_space = 2" > /etc/sysctl.d/60-edgeguard.conf && sysctl --system',
    evaluate: sysctlCheck(['kernel.randomize_va_space'], equals('2'), '2'),
  },
  {
    id: 'EG-OSB-020',
    severity: 'Informational',
    description: 'IP forwarding is disabled (net.ipv4.ip_forward = 0); container bridge networking needs it on, so expect this on Docker hosts',
    remediation: 'If the device routes nothing and uses host networking only: net.ipv4.ip_forward = 0 in /etc/sysctl.d. Otherwise add EG-OSB-020 to osBaselineDisabledChecks.',
    evaluate: sysctlCheck(['net.ipv4.ip_forward'], equals('0'), '0'),
  },
  {
    id: 'EG-OSB-021',
    severity: 'Important',
    description: 'Core dumps of setuid programs are disabled (fs.suid_dumpable = 0)',
    remediation: 'fs.suid_dumpable = 0 in /etc/sysctl.d, and "* hard core 0" in /etc/security/limits.conf.',
    evaluate: sysctlCheck(['fs.suid_dumpable'], equals('0'), '0'),
  },
  {
    id: 'EG-OSB-022',
    severity: 'Warning',
    description: 'TCP SYN cookies are enabled (net.ipv4.tcp_syncookies = 1)',
    remediation: 'net.ipv4.tcp_syncookies = 1 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['net.ipv4.tcp_syncookies'], equals('1'), '1'),
  },
  {
    id: 'EG-OSB-023',
    severity: 'Warning',
    description: 'IPv4 ICMP redirects are not accepted (net.ipv4.conf.all/default.accept_redirects = 0)',
    remediation: 'net.ipv4.conf.all.accept_redirects = 0 and net.ipv4.conf.default.accept_redirects = 0 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['net.ipv4.conf.all.accept_redirects', 'net.ipv4.conf.default.accept_redirects'], equals('0'), '0'),
  },
  {
    id: 'EG-OSB-024',
    severity: 'Warning',
    description: 'IPv6 ICMP redirects are not accepted (net.ipv6.conf.all/default.accept_redirects = 0)',
    remediation: 'net.ipv6.conf.all.accept_redirects = 0 and net.ipv6.conf.default.accept_redirects = 0 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['net.ipv6.conf.all.accept_redirects', 'net.ipv6.conf.default.accept_redirects'], equals('0'), '0'),
  },
  {
    id: 'EG-OSB-025',
    severity: 'Warning',
    description: 'ICMP redirects are not sent (net.ipv4.conf.all.send_redirects = 0)',
    remediation: 'net.ipv4.conf.all.send_redirects = 0 and net.ipv4.conf.default.send_redirects = 0 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['net.ipv4.conf.all.send_redirects'], equals('0'), '0'),
  },
  {
    id: 'EG-OSB-026',
    severity: 'Warning',
    description: 'Source-routed packets are not accepted (net.ipv4.conf.all.accept_source_route = 0)',
    remediation: 'net.ipv4.conf.all.accept_source_route = 0 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['net.ipv4.conf.all.accept_source_route'], equals('0'), '0'),
  },
  {
    id: 'EG-OSB-027',
    severity: 'Warning',
    description: 'Reverse path filtering is on (net.ipv4.conf.all.rp_filter = 1 or 2)',
    remediation: 'net.ipv4.conf.all.rp_filter = 1 (strict) or 2 (loose) in /etc/sysctl.d.',
    evaluate: sysctlCheck(['net.ipv4.conf.all.rp_filter'], (v) => v === '1' || v === '2', '1 or 2'),
  },
  {
    id: 'EG-OSB-028',
    severity: 'Informational',
    description: 'Kernel log is restricted to privileged users (kernel.dmesg_restrict = 1)',
    remediation: 'kernel.dmesg_restrict = 1 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['kernel.dmesg_restrict'], equals('1'), '1'),
  },
  {
    id: 'EG-OSB-029',
    severity: 'Warning',
    description: 'Kernel pointers are hidden from unprivileged users (kernel.kptr_restrict >= 1)',
    remediation: 'kernel.kptr_restrict = 1 (or 2) in /etc/sysctl.d.',
    evaluate: sysctlCheck(['kernel.kptr_restrict'], atLeast(1), '1 or 2'),
  },
  {
    id: 'EG-OSB-030',
    severity: 'Warning',
    description: 'ptrace is restricted to descendants (kernel.yama.ptrace_scope >= 1)',
    remediation: 'kernel.yama.ptrace_scope = 1 in /etc/sysctl.d (needs the Yama LSM).',
    evaluate: sysctlCheck(['kernel.yama.ptrace_scope'], atLeast(1), '1 to 3', fail('kernel.yama.ptrace_scope not present: the Yama LSM is not enabled, ptrace is unrestricted')),
  },
  {
    id: 'EG-OSB-031',
    severity: 'Warning',
    description: 'Unprivileged users cannot load eBPF programs (kernel.unprivileged_bpf_disabled >= 1)',
    remediation: 'kernel.unprivileged_bpf_disabled = 1 in /etc/sysctl.d.',
    evaluate: sysctlCheck(['kernel.unprivileged_bpf_disabled'], atLeast(1), '1 or 2'),
  },
  {
    id: 'EG-OSB-032',
    severity: 'Important',
    description: 'No world-writable files (or world-writable directories without the sticky bit) in /usr/bin, /usr/sbin, /bin, /sbin, /etc',
    remediation: 'chmod o-w on the files listed; find /usr/bin /usr/sbin /bin /sbin /etc -xdev -perm -0002 ! -type l lists them all.',
    evaluate: worldWritable,
  },
  {
    id: 'EG-OSB-033',
    severity: 'Important',
    description: '/tmp has the sticky bit (users cannot delete each other\'s files)',
    remediation: 'chmod 1777 /tmp',
    evaluate: tmpSticky,
  },
];

/** Runs one check; an exception (EACCES on a file…) is an Err with its code. */
export function runCheck(check: BaselineCheck, host: HostView): CheckOutcome {
  try {
    return check.evaluate(host);
  } catch (e) {
    const file = (e as NodeJS.ErrnoException)?.path;
    return err(`${errorText(e)}${file ? ` on /${path.posix.relative(host.hostRoot, file)}` : ''}`);
  }
}
