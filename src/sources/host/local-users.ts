import { createEvent, type PayloadItem } from '../../core/event';
import type { Source, SourceContext, SourceDefinition } from '../source';
import { parseGroupEntries, parsePasswdEntries, readHostText, type GroupEntry, type PasswdEntry } from './accounts/account-files';
import { errorCode } from '../../core/error-text';
import { defineEventType } from '../../core/event-types';

export const LOCAL_USERS_EVENT = 'LocalUsers';
export const LOCAL_USERS = defineEventType({ name: LOCAL_USERS_EVENT, category: 'Periodic', defaultPriority: 'High', schema: 'official' });


/** One LocalUsers item: primary group first, then supplementary groups in group-file order. */
export function localUserItem(user: PasswdEntry, groups: readonly GroupEntry[]): PayloadItem {
  const byGid = new Map<number, string>();
  for (const g of groups) if (!byGid.has(g.gid)) byGid.set(g.gid, g.name);
  const ids = [user.gid];
  for (const g of groups) if (g.members.includes(user.name) && !ids.includes(g.gid)) ids.push(g.gid);
  return {
    UserId: String(user.uid),
    UserName: user.name,
    GroupIds: ids.join(';'),
    // A gid without a group entry keeps its place, named by its number.
    GroupNames: ids.map((id) => byGid.get(id) ?? String(id)).join(';'),
    ExtraDetails: { Shell: user.shell },
  };
}

/** Builds the LocalUsers payload from the host's passwd and group files; warns and goes on past bad lines. */
export function collectLocalUsers(ctx: Pick<SourceContext, 'hostRoot' | 'log' | 'setStatus'>): PayloadItem[] | undefined {
  let passwdText: string;
  try {
    passwdText = readHostText(ctx.hostRoot, '/etc/passwd');
  } catch (err) {
    ctx.setStatus({ state: 'failed', reason: `cannot read /etc/passwd under host root ${ctx.hostRoot}: ${errorCode(err)}` });
    return undefined;
  }
  const passwd = parsePasswdEntries(passwdText);
  if (passwd.malformedLines.length > 0) ctx.log.warn('malformed lines in host passwd file skipped', { file: '/etc/passwd', lines: passwd.malformedLines.join(',') });
  let groups: GroupEntry[] = [];
  let degraded: string | undefined;
  try {
    const parsed = parseGroupEntries(readHostText(ctx.hostRoot, '/etc/group'));
    if (parsed.malformedLines.length > 0) ctx.log.warn('malformed lines in host group file skipped', { file: '/etc/group', lines: parsed.malformedLines.join(',') });
    groups = parsed.entries;
  } catch (err) {
    degraded = `cannot read /etc/group (${errorCode(err)}): only primary group ids are reported`;
    ctx.log.warn('host group file not readable', { file: '/etc/group', error: errorCode(err) });
  }
  ctx.setStatus(degraded ? { state: 'degraded', reason: degraded } : { state: 'running' });
  return passwd.entries.map((user) => localUserItem(user, groups));
}

export const localUsersSource: SourceDefinition = {
  name: 'LocalUsers',
  description: 'Snapshot of the host accounts with their groups, from /etc/passwd and /etc/group.',
  events: [LOCAL_USERS],
  settings: [],
  async start(ctx: SourceContext): Promise<Source> {
    return {
      snapshot: async () => {
        const payload = collectLocalUsers(ctx);
        if (payload) ctx.emit(createEvent(LOCAL_USERS_EVENT, 'Periodic', payload));
      },
      stop: async () => undefined,
    };
  },
};
