import { detailsKey, KEY_SEPARATOR as SEP, keyText as text, withDetails } from '../../../core/aggregation-key';
import type { PayloadItem } from '../../../core/event';
import { defineEventType } from '../../../core/event-types';

/** A process started. Identical starts (executable, command line, user) within a window aggregate. */
export const PROCESS_CREATE = defineEventType({
  name: 'ProcessCreate',
  category: 'Triggered',
  defaultPriority: 'Low',
  schema: 'official',
  aggregation: {
    key: (i) => `${text(i.Executable)}${SEP}${text(i.CommandLine)}${SEP}${text(i.UserId)}${SEP}${text(i.UserName)}${detailsKey(i.ExtraDetails)}`,
    normalize: (i) => {
      const item: PayloadItem = { Executable: i.Executable, ProcessId: 0, ParentProcessId: 0, UserId: i.UserId, CommandLine: i.CommandLine };
      if (i.UserName !== undefined) item.UserName = i.UserName;
      return withDetails(item, i);
    },
  },
});

/** A process ended. Identical ends (executable, exit status) within a window aggregate. */
export const PROCESS_TERMINATE = defineEventType({
  name: 'ProcessTerminate',
  category: 'Triggered',
  defaultPriority: 'Low',
  schema: 'official',
  aggregation: {
    key: (i) => `${text(i.Executable)}${SEP}${text(i.ExitStatus)}${detailsKey(i.ExtraDetails)}`,
    normalize: (i) => withDetails({ Executable: i.Executable, ProcessId: 0, ExitStatus: i.ExitStatus }, i),
  },
});
