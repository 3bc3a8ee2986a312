import { defineEventType } from '../core/event-types';

/** An alert raised on the device (schemas/events/SecurityAlert.json); sent at once on the High queue. */
export const SECURITY_ALERT = defineEventType({ name: 'SecurityAlert', category: 'Triggered', defaultPriority: 'High' });

/** Recommendations judged on a snapshot (schemas/events/SecurityRecommendation.json), queued beside it. */
export const SECURITY_RECOMMENDATION = defineEventType({ name: 'SecurityRecommendation', category: 'Periodic', defaultPriority: 'Low' });

export const DETECTION_EVENT_TYPES = [SECURITY_ALERT, SECURITY_RECOMMENDATION] as const;
