import type { EmitEvent, SecurityEvent } from '../core/event';

/**
 * The place of the detections stage in the chain:
 *   sources → redaction → [detections] → priority routing → aggregation → queues → codec → upstream.
 * It sees every raw event after redaction (whatever its priority, Off included) and before aggregation,
 * and may raise events of its own. Empty by default: the engine (src/detections) plugs in through
 * PipelineOptions.detections, wired by the agent; the pipeline never imports it.
 */
export type DetectionStage = (event: SecurityEvent) => void;

/**
 * Builds the stage. `emit` sends an event the stage raises into the chain AFTER the detections
 * (priority routing, aggregation, queues), so a raised event is never inspected again.
 */
export type DetectionStageFactory = (emit: EmitEvent) => DetectionStage;

/** No detections: the default. */
export const NO_DETECTIONS: DetectionStage = () => undefined;
