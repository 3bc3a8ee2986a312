import { detailsKey, KEY_SEPARATOR as SEP, keyText as text, withDetails } from '../../../core/aggregation-key';
import type { PayloadItem } from '../../../core/event';
import { defineEventType } from '../../../core/event-types';

/** A process started. Identical starts (executable, command line, user) within a window aggregate. */
/** ExtraDetails that are part of the key; the exec-time context (Cwd, Tty, Parent*, Container*, Std*Type) is not. */
const CREATE_KEY_DETAILS = ['CommandLineTruncated', 'EffectiveUserId', 'MissingFields'];
const TERMINATE_KEY_DETAILS = ['CoreDumped', 'MissingFields', 'TerminationSignal'];

export const PROCESS_CREATE = defineEventType({
  name: 'ProcessCreate',
  category: 'Triggered',
  defaultPriority: 'Low',
  schema: 'official',
  aggregation: {
    key: (i) => `${text(i.Executable)}${SEP}${text(i.CommandLine)}${SEP}${text(i.UserId)}${SEP}${text(i.UserName)}${detailsKey(i.ExtraDetails, CREATE_KEY_DETAILS)}`,
    keyDetails: CREATE_KEY_DETAILS,
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
    key: (i) => `${text(i.Executable)}${SEP}${text(i.ExitStatus)}${detailsKey(i.ExtraDetails, TERMINATE_KEY_DETAILS)}`,
    keyDetails: TERMINATE_KEY_DETAILS,
    normalize: (i) => withDetails({ Executable: i.Executable, ProcessId: 0, ExitStatus: i.ExitStatus }, i),
  },
});
